"""Redshift renderings of the dbt cross-database macros the models call.

A model calling a macro missing here fails the lint with "Undefined jinja
template variable": add a function with the macro's name and arguments.
"""


def date_trunc(datepart: str, date: str) -> str:
    return f"date_trunc('{datepart}', {date})"


def datediff(first_date: str, second_date: str, datepart: str) -> str:
    return f"datediff({datepart}, {first_date}, {second_date})"
