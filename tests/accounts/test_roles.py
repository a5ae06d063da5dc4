"""Roles are groups holding exactly their permissions (DESIGN §9), kept in step by roles_sync."""

import io

import pytest
from auditlog.models import LogEntry
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command

from apps.accounts import roles
from apps.accounts import services as account_services
from apps.accounts.roles import ROLES, Role
from apps.accounts.services import roles_sync


def _names(group: Group) -> set[str]:
    return {
        f"{p.content_type.app_label}.{p.codename}"
        for p in group.permissions.select_related("content_type")
    }


def _snapshot() -> dict[str, tuple[int, frozenset[int]]]:
    return {
        g.name: (g.pk, frozenset(g.permissions.values_list("pk", flat=True)))
        for g in Group.objects.all()
    }


def _check_groups_match_roles() -> None:
    groups = {g.name: g for g in Group.objects.all()}
    assert set(groups) == {role.name for role in ROLES}
    for role in ROLES:
        if role is roles.ADMIN:
            assert groups[role.name].permissions.count() == Permission.objects.count()
        else:
            assert _names(groups[role.name]) == role.permissions, role.slug


def test_roles_after_migrate_are_groups_with_exactly_their_permissions(db):
    _check_groups_match_roles()


def test_roles_sync_creates_missing_groups(db):
    Group.objects.filter(name__in=[roles.VIEWER.name, roles.AUDITOR.name]).delete()

    groups = roles_sync()

    assert [g.name for g in groups] == [role.name for role in ROLES]
    _check_groups_match_roles()


def test_roles_sync_twice_changes_nothing(db):
    roles_sync()
    before = _snapshot()
    entries = LogEntry.objects.count()

    roles_sync()

    assert _snapshot() == before
    assert LogEntry.objects.count() == entries


def test_roles_sync_restores_a_permission_removed_by_hand(db):
    analyst = Group.objects.get(name=roles.AP_ANALYST.name)
    replay = Permission.objects.get(content_type__app_label="accounts", codename="replay")
    analyst.permissions.remove(replay)
    assert "accounts.replay" not in _names(analyst)

    roles_sync()

    assert _names(analyst) == roles.AP_ANALYST.permissions


def test_roles_sync_removes_a_permission_added_by_hand(db):
    viewer = Group.objects.get(name=roles.VIEWER.name)
    viewer.permissions.add(
        Permission.objects.get(content_type__app_label="accounts", codename="bulk_replay")
    )

    roles_sync()

    assert _names(viewer) == roles.VIEWER.permissions


def test_roles_sync_gives_the_admin_group_permissions_added_later(db):
    content_type = ContentType.objects.get_for_model(Group)
    late = Permission.objects.create(
        content_type=content_type, codename="late_capability", name="Can do a late thing"
    )

    roles_sync()

    admin = Group.objects.get(name=roles.ADMIN.name)
    assert admin.permissions.filter(pk=late.pk).exists()
    assert admin.permissions.count() == Permission.objects.count()


def test_roles_sync_command_lists_the_groups(db):
    out = io.StringIO()

    call_command("sync_roles", stdout=out)

    for role in ROLES:
        count = len(role.permissions) if role is not roles.ADMIN else Permission.objects.count()
        assert f"{role.name}: {count} permissions" in out.getvalue()


def test_role_naming_an_unknown_permission_raises_lookup_error(db):
    broken = Role("broken", "Broken", frozenset({"pipeline.view_transaction", "accounts.fly"}))

    with pytest.raises(LookupError, match=r"accounts\.fly"):
        account_services._permissions_for(broken, using="default")


def test_roles_sync_with_an_unknown_permission_fails_and_writes_nothing(db, monkeypatch):
    broken = Role("broken", "Broken", frozenset({"exceptions.change_everything"}))
    monkeypatch.setattr(account_services, "ROLES", (*ROLES, broken))
    viewer = Group.objects.get(name=roles.VIEWER.name)
    viewer.permissions.clear()

    with pytest.raises(LookupError, match="change_everything"):
        roles_sync()

    assert not Group.objects.filter(name="Broken").exists()
    assert viewer.permissions.count() == 0  # rolled back with the failure


# --- What each persona may do (DESIGN §9) ---------------------------------------------------------

CAPABILITIES = [
    "pipeline.view_transaction",
    "exceptions.view_businessexception",
    "exceptions.change_businessexception",
    "accounts.view_payload",
    "accounts.replay",
    "accounts.edit_and_replay",
    "accounts.bulk_replay",
    "accounts.fix_mapping",
    "accounts.approve_mapping",
    "accounts.administer_connectors",
    "connectors.change_connector",
    "exceptions.change_exceptioncode",
    "auditlog.view_logentry",
]
# Rows follow CAPABILITIES; 1 = may, 0 = may not.
MATRIX = {
    "viewer": [1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    "ap_analyst": [1, 1, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0],
    "steward": [1, 1, 1, 0, 1, 0, 0, 1, 1, 0, 0, 0, 0],
    "engineer": [1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 0],
    "auditor": [1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
    "outsider": [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
}


@pytest.mark.parametrize("persona", list(MATRIX))
def test_persona_permissions_match_design(request, persona):
    user = request.getfixturevalue(persona)

    granted = [int(user.has_perm(name)) for name in CAPABILITIES]

    assert dict(zip(CAPABILITIES, granted, strict=True)) == dict(
        zip(CAPABILITIES, MATRIX[persona], strict=True)
    )


def test_persona_auditor_can_read_audit_but_change_nothing(auditor):
    assert auditor.has_perm("auditlog.view_logentry")
    assert auditor.is_staff
    changes = [p for p in auditor.get_all_permissions() if not p.split(".")[1].startswith("view_")]
    assert changes == []


def test_persona_viewer_is_not_staff_and_reads_only(viewer):
    assert not viewer.is_staff
    assert all(p.split(".")[1].startswith("view_") for p in viewer.get_all_permissions())
    assert "accounts.view_payload" not in viewer.get_all_permissions()
