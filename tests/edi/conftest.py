"""Builders for X12 test data and the path of the shared corpus of real partner files."""

import os
from pathlib import Path

import pytest

# The corpus lives beside the repository (…/shared/corpus), in CI as on a workstation.
CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "x12"

ISA = (
    "ISA*00*          *00*          *ZZ*HOSPITALBUYER  *ZZ*ACMESUPPLY     "
    "*240105*1230*U*00401*000000042*0*T*:~"
)


def corpus_dir(kind: str) -> Path:
    """The corpus folder for ``kind`` (850, 835, TA1, ...); skips, or fails under CI."""
    folder = CORPUS / kind
    if not folder.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"X12 corpus folder {folder} is missing (it must be present in CI)")
        pytest.skip(f"X12 corpus folder {folder} is not present beside the repository")
    return folder


def corpus_file(kind: str, name: str) -> bytes:
    return (corpus_dir(kind) / f"github_Inteligenz_X12Par__{name}").read_bytes()


def interchange_text(
    *sets: list[str],
    set_id: str = "850",
    functional_id: str = "PO",
    isa: str = ISA,
    group_control: str = "42",
    interchange_control: str = "000000042",
    se_counts: dict[int, int] | None = None,
    ge_count: int | None = None,
) -> str:
    """An interchange written with ``*`` ``:`` ``~`` and a newline after each segment.

    Each set is a list of body segments (no ST/SE); SE01 is right unless ``se_counts``
    overrides it for a set (by 1-based set number).
    """
    gs = f"GS*{functional_id}*HOSPITALBUYER*ACMESUPPLY*20240105*1230*{group_control}*X*004010~"
    lines = [isa, gs]
    for number, body in enumerate(sets, 1):
        control = f"{number:04d}"
        count = (se_counts or {}).get(number, len(body) + 2)
        lines.append(f"ST*{set_id}*{control}~")
        lines.extend(f"{segment}~" for segment in body)
        lines.append(f"SE*{count}*{control}~")
    lines.append(f"GE*{len(sets) if ge_count is None else ge_count}*{group_control}~")
    lines.append(f"IEA*1*{interchange_control}~")
    return "\n".join(lines) + "\n"


def with_separators(text: str, element: str, component: str, terminator: str) -> str:
    """``text`` (written with ``*`` ``:`` ``~``) re-delimited; values must not use them."""
    if terminator in "\r\n":
        text = text.replace("~\n", "~")
    return text.translate(str.maketrans({"*": element, ":": component, "~": terminator}))


PO_850 = [
    "BEG*00*SA*PO-1001**20240105",
    "CUR*BY*USD",
    "REF*DP*ICU",
    "DTM*002*20240110",
    "N1*BY*St Mary Hospital*92*SMH",
    "N3*1 Main St*Building B",
    "N4*Springfield*IL*62701*US",
    "N1*SU*Acme Medical*91*ACME",
    "PO1*1*10*BX*12.50**VP*GLV-100*BP*H-200*UK*00012345678905",
    "PID*F****Nitrile gloves, medium",
    "PO1*2*3*EA*99.99**VN*SYR-5*UP*012345678905",
    "CTT*2",
    "AMT*TT*424.97",
]
