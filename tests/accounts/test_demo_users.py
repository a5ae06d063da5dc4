"""Demo users: one per role, for demos and development only."""

import io

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command

from apps.accounts.roles import ROLES
from apps.accounts.services import demo_password, demo_users_ensure

EXPECTED = {
    "alice": "AP analyst",
    "bob": "Supply-chain analyst",
    "carol": "Revenue-integrity analyst",
    "dave": "Integration engineer",
    "erin": "Data steward",
    "sam": "Data steward",  # the second pair of eyes for erin's mapping changes
    "frank": "Auditor",
    "grace": "Viewer",
    "admin": "Administrator",
}


def _state():
    return {
        u.username: (u.pk, u.password, u.is_staff, u.is_superuser, tuple(u.groups.all()))
        for u in User.objects.prefetch_related("groups")
    }


def test_demo_users_ensure_creates_one_user_per_role(db):
    created = demo_users_ensure()

    assert {name: role for name, role, _ in created} == EXPECTED
    assert len(created) == 9
    assert {role for _, role, _ in created} == {role.name for role in ROLES}  # every role
    staff_by_role = {role.name: role.staff for role in ROLES}
    for username, role_name in EXPECTED.items():
        user = User.objects.get(username=username)
        assert [g.name for g in user.groups.all()] == [role_name]
        assert user.is_staff == staff_by_role[role_name], username
        assert user.is_superuser == (username == "admin")
        assert user.is_active
        assert user.check_password(demo_password(username))
        assert user.email == f"{username}@example.org"
        assert user.first_name
        assert user.last_name
    assert {password for _, _, password in created} == {demo_password(u) for u in EXPECTED}


def test_demo_users_ensure_is_idempotent(db):
    demo_users_ensure()
    before = _state()

    again = demo_users_ensure()

    assert _state() == before
    assert len(again) == 9
    assert User.objects.count() == 9


def test_demo_users_ensure_puts_a_drifted_user_back_in_role(db):
    demo_users_ensure()
    grace = User.objects.get(username="grace")
    grace.is_staff = True
    grace.save()
    grace.groups.clear()

    demo_users_ensure()

    grace.refresh_from_db()
    assert not grace.is_staff
    assert [g.name for g in grace.groups.all()] == ["Viewer"]


@pytest.mark.parametrize("mode", ["production", "development"])
def test_demo_users_ensure_refuses_outside_demo_mode(db, settings, mode):
    settings.MODE = mode

    with pytest.raises(RuntimeError, match="only in demo mode"):
        demo_users_ensure()

    assert not User.objects.exists()


def test_demo_users_command_lists_the_logins(db):
    out = io.StringIO()

    call_command("demo_users", "--list", stdout=out)

    lines = out.getvalue().splitlines()
    assert len(lines) == 9
    for username, role_name in EXPECTED.items():
        line = next(line for line in lines if line.split()[0] == username)
        assert demo_password(username) in line
        assert line.rstrip().endswith(role_name)


def test_demo_users_command_without_list_prints_nothing(db):
    out = io.StringIO()

    call_command("demo_users", stdout=out)

    assert out.getvalue() == ""
    assert User.objects.count() == 9


def test_demo_users_command_refuses_production(db, settings):
    settings.MODE = "production"

    with pytest.raises(CommandError, match="only in demo mode"):
        call_command("demo_users", "--list", stdout=io.StringIO())

    assert not User.objects.exists()
