"""Demo traffic: a simulated procurement system, inventory system and supplier at work.

Sends signed webhooks (with some resends, revisions, invalid and rejected documents), drops
files into the inventory folder and the supplier's SFTP outbox, and now and then tells the
sandbox ERP to fail for a while so retries, backoff and the circuit breaker show in the
console. The procurement system also sends purchase orders (webhook ``procurement-po``) in
its own codes from the demo network, for the EDI suppliers that ``sandbox_supplier`` plays;
a few name an unmapped supplier or a closed cost center, so master-data exceptions appear.
The content is deterministic for a given --seed; ids carry a per-run prefix so a restarted
demo sends new messages rather than resends.
"""

import datetime
import functools
import json
import os
import random
import time
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import httpx
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from apps.connectors.signing import sign
from apps.sandbox.demo_network import (
    ItemSpec,
    NetworkPlan,
    demo_network_plan,
    procurement_item_key,
    procurement_supplier_key,
)
from apps.sandbox.supplier import EDI_SUPPLIERS, supplier_parts

DEMO = settings.DATA_DIR / "demo"
FACILITIES = ["HOSP-NORTH", "HOSP-SOUTH", "HOSP-EAST", "CLINIC-01", "CLINIC-02"]
SUPPLIERS = [f"SUP-{n:03d}" for n in range(1, 25)]
UNMAPPED_SUPPLIER_SHARE = 0.03  # POs naming a supplier procurement knows and the master not
CLOSED_COST_CENTER_SHARE = 0.02  # POs charged to the cost center that was closed


@functools.cache
def network() -> NetworkPlan:
    return demo_network_plan()  # the same every time, and it takes a moment to make


@functools.cache
def orderable_parts(supplier: str) -> tuple[tuple[str, ItemSpec], ...]:
    """(vendor part, item) a demo supplier sells, without the items planted as flaws."""
    gaps = network().gaps
    flawed = {gaps.item_without_conversion, *(copy for _, copy in gaps.duplicate_items)}
    unknown = set(gaps.unknown_procurement_items)
    return tuple(
        (part, item)
        for part, item in supplier_parts(supplier)
        if item.code not in flawed and procurement_item_key(item.number) not in unknown
    )


class Traffic:
    def __init__(self, *, seed: int, run: str, base_url: str, sandbox_url: str, secret: str):
        self.random = random.Random(seed)
        self.run = run  # keeps ids of this run apart from those of earlier runs
        self.base_url = base_url
        self.sandbox_url = sandbox_url
        self.secret = secret
        self.client = httpx.Client(timeout=10)
        self.sequence = 0
        self.sent: list[bytes] = []
        # Purchase orders draw from their own stream, so the other traffic stays as it was.
        self.po_random = random.Random(f"{seed}:purchase-orders")
        self.po_sequence = 0

    def document(self) -> dict:
        self.sequence += 1
        lines = [
            {
                "line": n,
                "item": f"ITEM-{self.random.randint(1, 3000):05d}",
                "quantity": self.random.randint(1, 20),
                "unit_price": round(self.random.uniform(2, 900), 2),
            }
            for n in range(1, self.random.randint(2, 6))
        ]
        return {
            "event_id": f"evt-{self.run}-{self.sequence:07d}",
            "id": f"REQ-{self.run}-{self.sequence:07d}",
            "revision": 1,
            "po_number": f"PO-{self.run}-{self.sequence:06d}",
            "supplier": {"code": self.random.choice(SUPPLIERS)},
            "facility": self.random.choice(FACILITIES),
            "lines": lines,
            "total": round(sum(x["quantity"] * x["unit_price"] for x in lines), 2),
        }

    def purchase_order(self, *, today: datetime.date | None = None) -> dict:
        """A procurement PO in procurement's codes, for one of the EDI suppliers."""
        rng, plan = self.po_random, network()
        self.po_sequence += 1
        number = f"{self.run}-P{self.po_sequence:05d}"
        supplier = rng.choice(EDI_SUPPLIERS)
        supplier_key = procurement_supplier_key(supplier)
        centers = [c for c in plan.cost_centers if c.facility and c.active]
        center = rng.choice(centers)
        roll = rng.random()
        if roll < UNMAPPED_SUPPLIER_SHARE:
            supplier_key = rng.choice(plan.gaps.unknown_procurement_suppliers)
        elif roll < UNMAPPED_SUPPLIER_SHARE + CLOSED_COST_CENTER_SHARE:
            center = next(c for c in plan.cost_centers if not c.active)
        parts = orderable_parts(supplier)
        lines = []
        for n, (part, item) in enumerate(rng.sample(parts, rng.randint(1, 5)), start=1):
            quantity = rng.randint(1, 4) if item.uom == "CS" else rng.randint(1, 12)
            price = Decimal(str(item.cost * item.per_box)).quantize(
                Decimal("0.01"), rounding=ROUND_HALF_UP
            )
            lines.append(
                {
                    "line_number": str(n),
                    "item": procurement_item_key(item.number),
                    "vendor_part": part,
                    "description": item.name,
                    "quantity": str(quantity),
                    "unit": item.uom,
                    "unit_price": str(price),
                }
            )
        return {
            "event_id": f"po-{number}",
            "po_number": f"PO-{number}",
            "revision": 1,
            "requisition_number": f"REQ-{number}",
            "po_date": (today or datetime.date.today()).isoformat(),
            "legal_entity": center.legal_entity,
            "facility": center.facility,
            # Procurement names cost centers by HubConsole's own codes (it has no mapping).
            "cost_center": center.code,
            "supplier": supplier_key,
            "currency": "USD",
            "lines": lines,
        }

    def send_purchase_order(self, slug: str) -> None:
        self.post(json.dumps(self.purchase_order()).encode(), slug=slug)

    def post(self, body: bytes, slug: str = "procurement-webhook") -> None:
        self.client.post(
            f"{self.base_url}/in/webhooks/{slug}",
            content=body,
            headers={
                "Content-Type": "application/json",
                "X-HubConsole-Signature": sign(self.secret, body),
            },
        )

    def webhook(self) -> None:
        roll = self.random.random()
        if roll < 0.05 and self.sent:
            body = self.random.choice(self.sent)  # the sender retries a delivery
        else:
            document = self.document()
            if roll < 0.07:
                del document["id"]  # breaks the contract: SCHEMA_INVALID
            elif roll < 0.09:
                document["reject_reason"] = "cost center closed for posting"
            elif roll < 0.12 and self.sent:
                earlier = json.loads(self.random.choice(self.sent))
                document = {**earlier, "event_id": document["event_id"], "revision": 2}
            body = json.dumps(document).encode()
            self.sent = [*self.sent[-200:], body]
        self.post(body)

    def drop_file(self, folder: Path) -> None:
        document = self.document()
        folder.mkdir(parents=True, exist_ok=True)
        partial = folder / f".{document['id']}.json.part"
        partial.write_text(json.dumps(document))
        partial.rename(folder / f"{document['id']}.json")  # appears complete, never half

    def outage(self) -> None:
        self.client.post(
            f"{self.sandbox_url}/faults",
            json={
                "target": "erp",
                "mode": "status",
                "status": 503,
                "retry_after": 5,
                "seconds": 20,
            },
        )


class Command(BaseCommand):
    help = "Send demo traffic to HubConsole (demo mode only)."

    def add_arguments(self, parser):
        parser.add_argument("--rate", type=float, default=2.0, help="webhooks per second")
        parser.add_argument("--seed", type=int, default=7)
        parser.add_argument(
            "--run", default="", help="prefix of this run's ids (default: from the clock)"
        )
        parser.add_argument("--outage-every", type=float, default=180.0, help="seconds")
        parser.add_argument(
            "--po-every", type=float, default=10.0, help="seconds between POs (0: none)"
        )
        parser.add_argument("--po-webhook", default="procurement-po", help="slug")

    def handle(self, *args, **options):
        if not settings.SANDBOX_ENABLED:
            raise CommandError("The sandbox is disabled (HUBCONSOLE_SANDBOX_ENABLED).")
        secret = os.environ.get("HUBCONSOLE_SECRET_DEMO_WEBHOOK")
        if not secret:
            raise CommandError("Set HUBCONSOLE_SECRET_DEMO_WEBHOOK.")
        traffic = Traffic(
            seed=options["seed"],
            run=options["run"] or f"{int(time.time()) % 10**6:06d}",
            base_url=settings.HUBCONSOLE["BASE_URL"],
            sandbox_url=os.environ.get("HUBCONSOLE_SANDBOX_URL", "http://127.0.0.1:8100"),
            secret=secret,
        )
        interval = 1.0 / options["rate"]
        started = last_file = last_sftp = last_po = time.monotonic()
        next_outage = started + options["outage_every"]
        while True:
            now = time.monotonic()
            try:
                traffic.webhook()
                if now - last_file > 20:
                    traffic.drop_file(DEMO / "inbox")
                    last_file = now
                if now - last_sftp > 30:
                    traffic.drop_file(DEMO / "sftp" / "outbox")
                    last_sftp = now
                if options["po_every"] and now - last_po > options["po_every"]:
                    traffic.send_purchase_order(options["po_webhook"])
                    last_po = now
                if now > next_outage:
                    traffic.outage()
                    next_outage = now + options["outage_every"]
            except httpx.HTTPError as error:
                self.stderr.write(f"traffic: {type(error).__name__}; retrying")
            time.sleep(interval)
