"""Adopting template updates with cruft: the template's changes arrive, the team's edits survive.

Every test works on a private git copy of the real template (cookiecutter.json, hooks/ and the
project directory), commits it as version A and bakes it with `cruft create`, the way the README
tells a team to. The team then edits its repository and the template moves on the way a release
would, and `cruft update` has to bring the two together.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, require_tool

TEMPLATE_DIR = "{{cookiecutter.project_name}}"
TEMPLATE_PARTS = ("cookiecutter.json", "hooks", TEMPLATE_DIR)
# Non-default answers, so the update has to carry the team's answers rather than the defaults;
# ci_provider=gitlab makes the post-generation hook remove .github on every re-bake.
ANSWERS = {"project_name": "team-dbt", "ci_provider": "gitlab"}
# What the generated pyproject.toml tells cruft to leave alone.
TEAM_DIRECTORIES = ("dbt/models", "dbt/seeds", "dbt/tests", "dbt/snapshots", "dbt/analyses")
UNMERGED = {"DD", "AU", "UD", "UA", "DU", "AA", "UU"}
TERRAFORM_VARIABLE_RE = re.compile(r'(?ms)^variable\s+"(?P<name>[^"]+)"\s*\{(?P<body>.*?)^\}')
SCALAR_DEFAULT_RE = re.compile(r'(?m)^(?P<lead>[ \t]*default[ \t]*=[ \t]*)(?P<value>-?[0-9]+|"[^"\n{}$%]*")[ \t]*$')


@dataclass
class World:
    """One template repository and the project a team baked from it."""

    root: Path
    env: dict[str, str]
    cruft: str
    template: Path
    project: Path
    version_a: str

    def run(self, *command: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(command, cwd=cwd, env=self.env, capture_output=True, text=True, timeout=120)
        if check and result.returncode != 0:
            pytest.fail(f"{' '.join(command)} failed ({result.returncode}) in {cwd}:\n{result.stdout}\n{result.stderr}")
        return result

    def git(self, repo: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.run("git", *args, cwd=repo, check=check)

    def commit(self, repo: Path, message: str) -> str:
        self.git(repo, "add", "--all")
        self.git(repo, "commit", "--quiet", "--message", message)
        return self.git(repo, "rev-parse", "HEAD").stdout.strip()

    def cruft_cmd(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.run(self.cruft, *args, cwd=self.project, check=check)

    def status(self, repo: Path | None = None) -> dict[str, str]:
        """`git status --porcelain` of the project: {path: two-letter status}."""
        lines = self.git(repo or self.project, "status", "--porcelain", "--untracked-files=all").stdout.splitlines()
        return {line[3:]: line[:2] for line in lines}


def isolated_env(root: Path) -> dict[str, str]:
    """Git and cookiecutter configured only by the test, whatever the machine's user has set."""
    git_config = root / "gitconfig"
    git_config.write_text(
        "[user]\n\tname = Template Test\n\temail = template-test@example.com\n"
        "[init]\n\tdefaultBranch = main\n[commit]\n\tgpgsign = false\n[tag]\n\tgpgsign = false\n",
        encoding="utf-8",
    )
    cookiecutter_config = root / "cookiecutterrc.yaml"
    cookiecutter_config.write_text(
        f"cookiecutters_dir: {root / 'cookiecutters'}\nreplay_dir: {root / 'replay'}\n", encoding="utf-8"
    )
    env = os.environ.copy()
    for key in list(env):
        if key.startswith("GIT_"):
            del env[key]
    env.update(
        GIT_CONFIG_GLOBAL=str(git_config),
        GIT_CONFIG_NOSYSTEM="1",
        COOKIECUTTER_CONFIG=str(cookiecutter_config),
        PATH=os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]),
    )
    return env


@pytest.fixture
def world(tmp_path: Path) -> World:
    """Template version A in a git repository of its own, and a team's project baked from it with cruft."""
    cruft = require_tool("cruft", "install the dev requirements: make venv")
    require_tool("git", "install git (apt-get install git)")
    env = isolated_env(tmp_path)

    # The directory name is what cookiecutter names the replay file after, as for a clone of the real repository.
    template = tmp_path / "cookiecutter-dbt-aws"
    template.mkdir()
    for part in TEMPLATE_PARTS:
        source = REPO_ROOT / part
        if source.is_dir():
            shutil.copytree(source, template / part, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(source, template / part)
    placeholder = World(tmp_path, env, cruft, template, tmp_path, "")
    placeholder.git(template, "init", "--quiet")
    version_a = placeholder.commit(template, "Template version A")
    # Caches a tool left in the working tree (they ignore themselves) are not part of any release.
    placeholder.git(template, "clean", "-fdX", "--quiet")
    placeholder.git(template, "tag", "vA")

    projects = tmp_path / "projects"
    placeholder.run(
        cruft,
        "create",
        "--no-input",
        "--checkout",
        "vA",
        "--output-dir",
        str(projects),
        "--extra-context",
        json.dumps(ANSWERS),
        str(template),
        cwd=tmp_path,
    )
    project = projects / ANSWERS["project_name"]
    world = World(tmp_path, env, cruft, template, project, version_a)
    world.git(project, "init", "--quiet")
    world.commit(project, "Baked from cookiecutter-dbt-aws vA")
    return world


def team_model(project: Path) -> Path:
    models = sorted((project / "dbt" / "models").rglob("*.sql"))
    if not models:
        pytest.fail("the generated project has no dbt model under dbt/models; the update scenario edits one")
    return models[0]


@dataclass
class TerraformDefault:
    path: Path  # relative to the project
    variable: str
    value: str  # as written in HCL: a number or a quoted string

    def changed(self, by: str) -> str:
        """Another value of the same type: what `by` (the team or the template) sets it to."""
        if self.value.startswith('"'):
            return f'"{self.value[1:-1]}-{by}"'
        return str(int(self.value) + (7 if by == "team" else 11))


def terraform_default(project: Path) -> TerraformDefault:
    """A Terraform variable with a plain default: the first number, else the first string."""
    candidates = []
    for path in sorted((project / "terraform").rglob("*.tf")):
        for block in TERRAFORM_VARIABLE_RE.finditer(path.read_text(encoding="utf-8")):
            found = SCALAR_DEFAULT_RE.search(block["body"])
            if found:
                candidates.append(TerraformDefault(path.relative_to(project), block["name"], found["value"]))
    if not candidates:
        pytest.fail("no Terraform variable under terraform/ has a number or string default; the scenario changes one")
    return min(candidates, key=lambda candidate: candidate.value.startswith('"'))


def set_terraform_default(path: Path, variable: str, value: str) -> None:
    """Rewrite the default of one variable block, and nothing else in the file."""
    text = path.read_text(encoding="utf-8")
    for block in TERRAFORM_VARIABLE_RE.finditer(text):
        if block["name"] != variable:
            continue
        body, count = SCALAR_DEFAULT_RE.subn(lambda m: m["lead"] + value, block["body"], count=1)
        if count == 0:
            # The template's source may render the default from an answer: replace that line.
            body, count = re.subn(
                r"(?m)^([ \t]*default[ \t]*=[ \t]*).*$", lambda m: m[1] + value, block["body"], count=1
            )
        assert count == 1, f"variable {variable!r} in {path} has no default line"
        path.write_text(text[: block.start("body")] + body + text[block.end("body") :], encoding="utf-8")
        return
    pytest.fail(f"{path} has no variable {variable!r}")


def files_with_leftovers(project: Path) -> list[str]:
    """Reject files, merge backups and conflict markers anywhere in the working tree."""
    found = []
    for path in project.rglob("*"):
        if ".git" in path.relative_to(project).parts or not path.is_file():
            continue
        if path.suffix in (".rej", ".orig"):
            found.append(str(path.relative_to(project)))
        elif re.search(rb"(?m)^(<<<<<<<|>>>>>>>) ", path.read_bytes()):
            found.append(f"{path.relative_to(project)} (conflict markers)")
    return sorted(found)


def test_cruft_bake_is_reproducible_and_skips_the_team_directories(world: World) -> None:
    # Re-rendering version A with the recorded answers (both hooks included) gives exactly this project.
    # (The output holds the post-generation hook's greeting, printed by every re-render, and any diff.)
    diff = world.cruft_cmd("diff", "--exit-code", check=False)
    assert diff.returncode == 0 and "diff --git" not in diff.stdout, f"cruft diff right after create:\n{diff.stdout}"

    state = json.loads((world.project / ".cruft.json").read_text(encoding="utf-8"))
    assert state["commit"] == world.version_a
    assert state["checkout"] == "vA"
    assert {key: state["context"]["cookiecutter"][key] for key in ANSWERS} == ANSWERS

    skip = tomllib.loads((world.project / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["cruft"]["skip"]
    assert sorted(skip) == sorted(TEAM_DIRECTORIES)
    assert not (world.project / ".github").exists(), "the post-generation hook keeps only the chosen CI provider"


B_MAKEFILE_LINES = "# Template B: make's built-in rules only slow it down here.\nMAKEFLAGS += --no-builtin-rules\n"
B_CHANGED = {"Makefile", "template-b-notes.md"}


def do_team_work(world: World, project: Path) -> dict[Path, bytes]:
    """The team edits a model, adds one and changes a Terraform default, and commits: {file: content}."""
    model = team_model(project)
    model.write_text(model.read_text(encoding="utf-8") + "-- the team's own filter\n", encoding="utf-8")
    new_model = model.parent / "team_new_model.sql"
    new_model.write_text("select 42 as answer\n", encoding="utf-8")
    default = terraform_default(project)
    set_terraform_default(project / default.path, default.variable, default.changed("team"))
    world.commit(project, "Team work")
    return {path: path.read_bytes() for path in (model, new_model, project / default.path)}


def release_b(world: World, project: Path) -> str:
    """Template version B, tagged vB: a shared file changes, a file is new, every team directory changes."""
    template = world.template / TEMPLATE_DIR
    makefile = template / "Makefile"
    text = makefile.read_text(encoding="utf-8")
    anchor = "SHELL := /bin/bash\n"
    assert anchor in text, f"the scenario changes the line after {anchor!r} in the generated Makefile"
    makefile.write_text(text.replace(anchor, anchor + B_MAKEFILE_LINES, 1), encoding="utf-8")
    (template / "template-b-notes.md").write_text("# {{ cookiecutter.project_name }}: new in B\n", encoding="utf-8")
    model = team_model(project).relative_to(project)
    assert (template / model).is_file(), f"{template / model} should be the template's source of {model}"
    (template / model).write_text("select 'the template rewrote this example' as b\n", encoding="utf-8")
    for directory in TEAM_DIRECTORIES:
        (template / directory).mkdir(parents=True, exist_ok=True)
        (template / directory / "template_b.sql").write_text("select 'B' as version\n", encoding="utf-8")
    version_b = world.commit(world.template, "Template version B")
    world.git(world.template, "tag", "vB")
    return version_b


def assert_release_b_merged(world: World, project: Path, team_files: dict[Path, bytes], extra: set[str]) -> None:
    """Exactly B's changes arrived: nothing from re-running the hooks, nothing in the team's directories."""
    changed = world.status(project)
    assert set(changed) == B_CHANGED | extra, changed
    assert not UNMERGED & set(changed.values()), changed
    assert B_MAKEFILE_LINES in (project / "Makefile").read_text(encoding="utf-8")
    assert (project / "template-b-notes.md").read_text(encoding="utf-8") == f"# {project.name}: new in B\n"
    assert files_with_leftovers(project) == []
    for path, content in team_files.items():
        assert path.read_bytes() == content, f"the update changed the team's {path.relative_to(project)}"
    for directory in TEAM_DIRECTORIES:
        assert not (project / directory / "template_b.sql").exists(), f"the update wrote into {directory}"


def test_update_applies_the_template_release_and_keeps_every_team_edit(world: World) -> None:
    project = world.project
    team_files = do_team_work(world, project)
    environments = (project / "environments.json").read_bytes()
    version_b = release_b(world, project)

    # Before the update the reminder fires (and exits non-zero, which CI tolerates).
    check = world.cruft_cmd("check", check=False)
    assert check.returncode != 0 and "out of date" in check.stdout

    update = world.cruft_cmd("update", "--skip-apply-ask", "--checkout", "vB")
    assert "has been updated" in update.stdout, update.stdout + update.stderr

    assert_release_b_merged(world, project, team_files, {".cruft.json"})
    assert (project / "environments.json").read_bytes() == environments
    state = json.loads((project / ".cruft.json").read_text(encoding="utf-8"))
    assert (state["commit"], state["checkout"]) == (version_b, "vB")
    world.cruft_cmd("check")


def test_changing_answers_with_cruft_adds_an_environment_and_keeps_team_edits(world: World) -> None:
    """The README's way to change an answer: `cruft update --variables-to-update`, the four answers in one go."""
    project = world.project
    team_files = do_team_work(world, project)
    answers = json.loads((project / ".cruft.json").read_text(encoding="utf-8"))["context"]["cookiecutter"]
    staging = {
        "environments": answers["environments"] + " staging",
        "aws_account_ids": answers["aws_account_ids"] + " staging=333333333333",
        "subnet_ids": answers["subnet_ids"] + " staging=subnet-2a1b2c3d4e5f60718",
        "security_group_ids": answers["security_group_ids"] + " staging=sg-2a1b2c3d4e5f60718",
    }
    world.cruft_cmd("update", "--skip-apply-ask", "--variables-to-update", json.dumps(staging))

    environments = json.loads((project / "environments.json").read_text(encoding="utf-8"))["environments"]
    assert list(environments) == answers["environments"].split() + ["staging"]
    assert environments["staging"]["account_id"] == "333333333333"
    assert environments["staging"]["names"]["ecs_cluster"] == f"{ANSWERS['project_name']}-staging"
    changed = world.status()
    assert {".cruft.json", "environments.json"} <= set(changed) and not UNMERGED & set(changed.values()), changed
    assert files_with_leftovers(project) == []
    for path, content in team_files.items():
        assert path.read_bytes() == content, f"the update changed the team's {path.relative_to(project)}"
    recorded = json.loads((project / ".cruft.json").read_text(encoding="utf-8"))["context"]["cookiecutter"]
    assert {key: recorded[key] for key in staging} == staging


def test_same_line_edited_on_both_sides_leaves_conflict_markers_git_reports(world: World) -> None:
    project = world.project
    default = terraform_default(project)
    team_value, template_value = default.changed("team"), default.changed("template")
    set_terraform_default(project / default.path, default.variable, team_value)
    world.commit(project, "Team sets its own default")

    template_file = world.template / TEMPLATE_DIR / default.path
    assert template_file.is_file(), f"{template_file} should be the template's source of {default.path}"
    set_terraform_default(template_file, default.variable, template_value)
    world.commit(world.template, "Template version C changes the same default")

    # cruft reports success: the conflict is only visible to git, which is why the README says to look.
    update = world.cruft_cmd("update", "--skip-apply-ask")
    assert "has been updated" in update.stdout, update.stdout + update.stderr

    path = default.path.as_posix()
    assert world.status().get(path) == "UU", world.status()
    text = (project / default.path).read_text(encoding="utf-8")
    conflict = re.search(r"(?ms)^<<<<<<< .*?\n(.*?)^=======\n(.*?)^>>>>>>> ", text)
    assert conflict, text
    assert team_value in conflict[1] and template_value in conflict[2], text
    markers = world.git(project, "diff", "--check", check=False)
    assert markers.returncode != 0 and f"{path}:" in markers.stdout and "leftover conflict marker" in markers.stdout
    assert not list(project.rglob("*.rej"))


@pytest.fixture
def make_with_cruft(tmp_path: Path) -> tuple[str, Path]:
    """make, and a VENV that already holds cruft, so `make template-check` skips the dbt install."""
    make = require_tool("make", "install make (apt-get install make)")
    venv = tmp_path / "venv-with-cruft"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "cruft").symlink_to(require_tool("cruft", "install the dev requirements: make venv"))
    (venv / "bin" / "python").symlink_to(sys.executable)
    return make, venv


def run_template_check(world_env: dict[str, str], make: str, venv: Path, project: Path) -> subprocess.CompletedProcess:
    (venv / ".installed").touch()  # newer than the project's requirements files: no pip install
    return subprocess.run(
        [make, "--no-print-directory", "template-check", f"VENV={venv}"],
        cwd=project,
        env=world_env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_make_template_check_reminds_only_when_the_template_moved(
    world: World, make_with_cruft: tuple[str, Path], default_project: Path
) -> None:
    make, venv = make_with_cruft
    current = run_template_check(world.env, make, venv, world.project)
    assert current.returncode == 0 and "up to date" in current.stdout, current.stdout + current.stderr

    (world.template / TEMPLATE_DIR / "template-b-notes.md").write_text("new in B\n", encoding="utf-8")
    world.commit(world.template, "Template version B")
    behind = run_template_check(world.env, make, venv, world.project)
    assert behind.returncode != 0, behind.stdout + behind.stderr
    assert "out of date" in behind.stdout and "cruft update --checkout <tag>" in behind.stderr

    # A plain cookiecutter bake has no .cruft.json: a message, and success.
    assert not (default_project / ".cruft.json").exists()
    plain = run_template_check(world.env, make, venv, default_project)
    assert plain.returncode == 0 and "baked with plain cookiecutter" in plain.stdout, plain.stdout + plain.stderr


def readme_recipe(project: Path, heading: str) -> str:
    """The first bash block under a heading of the generated README."""
    readme = (project / "README.md").read_text(encoding="utf-8")
    assert heading in readme, f"the generated README has no {heading!r}"
    block = re.search(r"```bash\n(.*?)```", readme[readme.index(heading) :], re.S)
    assert block, f"no bash block under {heading!r}"
    return block[1]


def test_replay_recipe_without_cruft_takes_a_release_and_keeps_team_edits(world: World) -> None:
    """The README's path without cruft: a plain bake, its replay file, and the release merged by git."""
    cookiecutter = require_tool("cookiecutter", "install the dev requirements: make venv")
    bakes = world.root / "plain"
    world.run(
        cookiecutter,
        "--no-input",
        "--output-dir",
        str(bakes),
        str(world.template),
        *(f"{key}={value}" for key, value in ANSWERS.items()),
        cwd=world.root,
    )
    project = bakes / ANSWERS["project_name"]
    replay = world.root / "replay" / "cookiecutter-dbt-aws.json"
    assert replay.is_file(), "cookiecutter writes the answers to <replay_dir>/<template name>.json"
    shutil.copy(replay, project / ".cookiecutter-replay.json")
    world.git(project, "init", "--quiet")
    world.commit(project, "Baked with cookiecutter vA")
    pristine = world.root / "pristine"
    shutil.copytree(project, pristine, ignore=shutil.ignore_patterns(".git", ".cookiecutter-replay.json"))

    team_files = do_team_work(world, project)
    release_b(world, project)

    recipe = readme_recipe(project, "### Without cruft")
    first, _, rest = recipe.partition("\n")
    assert first.startswith("TEMPLATE=") and " OLD=" in first and " NEW=" in first, first
    scratch = world.root / "scratch"
    scratch.mkdir()
    script = f"set -e\nTEMPLATE={world.template} OLD=vA NEW=vB\n{rest}"
    result = subprocess.run(
        ["bash", "-c", script],
        cwd=project,
        env={**world.env, "TMPDIR": str(scratch)},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr

    # The replayed bake of vA is the project as it was baked: the replay file carries every answer.
    (old,) = scratch.glob("*/old")
    same = world.run(
        "git", "diff", "--no-index", "--stat", str(pristine), str(old / project.name), cwd=world.root, check=False
    )
    assert same.returncode == 0, f"the replayed bake differs from the original:\n{same.stdout}"
    assert_release_b_merged(world, project, team_files, set())


RELEASE_HEADING_RE = re.compile(r"^## (Unreleased|v(\d+)\.(\d+)\.(\d+))$")
RELEASE_PARTS = ["### What a generated project gains", "### Manual steps"]


def changelog_releases() -> dict[str, list[str]]:
    """{release heading: the lines of its entry} from CHANGELOG.md, in file order."""
    releases: dict[str, list[str]] = {}
    current = None
    for line in (REPO_ROOT / "CHANGELOG.md").read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            assert RELEASE_HEADING_RE.match(line), f"CHANGELOG heading {line!r} is neither 'Unreleased' nor vX.Y.Z"
            current = line[3:]
            assert current not in releases, f"CHANGELOG has {current} twice"
            releases[current] = []
        elif current is not None:
            releases[current].append(line)
    return releases


def test_changelog_says_for_every_release_what_a_project_gains_and_what_to_do_by_hand() -> None:
    releases = changelog_releases()
    versions = [tuple(map(int, name[1:].split("."))) for name in releases if name != "Unreleased"]
    assert versions, "CHANGELOG.md has no release"
    assert versions == sorted(versions, reverse=True) and len(set(versions)) == len(versions), "newest release first"
    assert list(releases)[0] == "Unreleased" or "Unreleased" not in releases, "Unreleased goes on top"
    for name, lines in releases.items():
        parts = [line for line in lines if line.startswith("### ")]
        assert parts == RELEASE_PARTS, f"{name}: sub-headings {parts}, expected {RELEASE_PARTS}"
        for part, following in zip(RELEASE_PARTS, [*RELEASE_PARTS[1:], None], strict=True):
            body = lines[lines.index(part) + 1 : lines.index(following) if following else len(lines)]
            assert any(line.strip() for line in body), f"{name}: '{part}' is empty (write 'None.' if so)"

    # Every release tag of this repository has its entry (a checkout without tags has nothing to compare).
    git = require_tool("git", "install git (apt-get install git)")
    tags = subprocess.run(
        [git, "tag", "--list", "v*"], cwd=REPO_ROOT, capture_output=True, text=True, check=False
    ).stdout.split()
    missing = [tag for tag in tags if re.fullmatch(r"v\d+\.\d+\.\d+", tag) and tag not in releases]
    assert not missing, f"tags without a CHANGELOG entry: {missing}"
