"""schema.graphql (the committed SDL clients read) matches the code."""

from pathlib import Path

from django.conf import settings


def test_schema_graphql_is_current():
    from schema.schema import schema

    path = Path(settings.BASE_DIR) / "schema.graphql"
    expected = schema.as_str().rstrip() + "\n"
    assert path.exists(), "schema.graphql is missing: run `python manage.py print_schema`"
    assert path.read_text() == expected, "schema.graphql is out of date: run `python manage.py print_schema` and commit it"


def test_error_codes_are_unique_across_areas():
    from schema.errors import CODE_ENUMS

    seen: dict[str, str] = {}
    for enum in CODE_ENUMS:
        for member in enum:
            assert member.name == member.value, f"{enum.__name__}.{member.name} must equal its value"
            assert seen.setdefault(member.value, enum.__name__) == enum.__name__, (
                f"code {member.value} declared by both {seen[member.value]} and {enum.__name__}"
            )
