"""Reconciliation: a provider's statement of a day against our payments and refunds, whatever the provider.

Kinds of mismatch (``PaymentMismatch.kind``):

- ``provider_only``: the statement has a payment we do not hold as paid (unknown reference, or still open);
- ``knowcast_only``: we hold a payment as paid that day, the statement does not list it, and asking the
  provider about it (``query``) does not confirm it either (a payment near midnight that the provider put on
  the neighbouring day is confirmed by the query and is not a mismatch);
- ``amount``: both sides have it, with different amounts;
- ``refund_provider_only`` / ``refund_knowcast_only`` / ``refund_amount``: the same for refunds.

The day is the provider's statement day (``PaymentProvider.statement_timezone``: China Standard Time for
WeChat Pay and Alipay, UTC for Stripe). A run is recorded per provider and day (``reconciliation_runs``);
mismatches are kept once per kind and reference (a rerun finds the same rows) and every new one is published
as a ``payment.mismatch`` bus event, which integrations deliver as an outgoing webhook.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from knowcast.bus import Event
from knowcast.commerce.errors import CommerceCode
from knowcast.commerce.models import Payment, PaymentMismatch, PaymentRefund, ReconciliationRun
from knowcast.commerce.providers.base import EventKind, PaymentProvider, Statement
from knowcast.commerce.runtime import CommerceRuntime
from knowcast.commerce.states import PaymentState
from knowcast.context import AppContext
from knowcast.db.types import utcnow
from knowcast.errors import NotFound

log = logging.getLogger(__name__)
PAID = (PaymentState.SUCCEEDED, PaymentState.REFUNDED)
EVENT = "payment.mismatch"


@dataclass(frozen=True)
class Mismatch:
    kind: str
    reference: str
    order_id: int | None
    ours: int | None
    theirs: int | None
    currency: str | None


@dataclass
class Report:
    provider: str
    day: date
    lines: int
    mismatches: list[Mismatch] = field(default_factory=list)
    new: int = 0  # first seen in this run

    def as_dict(self) -> dict[str, object]:
        return {
            "provider": self.provider,
            "day": self.day.isoformat(),
            "lines": self.lines,
            "new": self.new,
            "mismatches": [asdict(m) for m in self.mismatches],
        }


def day_bounds(day: date, zone: str) -> tuple[datetime, datetime]:
    """The day in the provider's time zone, as a UTC range [start, end)."""
    tz = ZoneInfo(zone)
    start = datetime.combine(day, time(0), tzinfo=tz)
    return start.astimezone(UTC), (start + timedelta(days=1)).astimezone(UTC)


def provider_for(ctx: AppContext, name: str) -> PaymentProvider:
    provider = ctx.runtime(CommerceRuntime).providers.get(name)
    if provider is None:
        raise NotFound(f"{name} is not an enabled payment provider", code=CommerceCode.PAYMENT_UNKNOWN_PROVIDER)
    return provider


async def compare(session: AsyncSession, provider: PaymentProvider, statement: Statement) -> list[Mismatch]:
    """The differences between a statement and our books (confirming ``knowcast_only`` candidates by query)."""
    start, end = day_bounds(statement.day, provider.statement_timezone)
    payment_lines = [line for line in statement.lines if line.kind == "payment"]
    refund_lines = [line for line in statement.lines if line.kind == "refund"]
    found: list[Mismatch] = []

    references = {line.reference for line in statement.lines if line.reference}
    known: dict[str, Payment] = {}
    if references:
        rows = await session.scalars(
            select(Payment).where(Payment.provider == provider.name, Payment.reference.in_(references))
        )
        known = {p.reference: p for p in rows}
    for line in payment_lines:
        payment = known.get(line.reference)
        if payment is None or payment.state not in PAID:
            order_id = payment.order_id if payment else None
            found.append(Mismatch("provider_only", line.reference, order_id, None, line.amount, line.currency))
        elif payment.amount != line.amount or payment.currency.upper() != line.currency.upper():
            found.append(
                Mismatch("amount", line.reference, payment.order_id, payment.amount, line.amount, line.currency)
            )
    listed = {line.reference for line in payment_lines}
    ours = await session.scalars(
        select(Payment).where(
            Payment.provider == provider.name,
            Payment.state.in_(PAID),
            Payment.paid_at >= start,
            Payment.paid_at < end,
        )
    )
    for payment in list(ours):
        if payment.reference in listed or await _confirmed(provider, payment):
            continue
        found.append(
            Mismatch("knowcast_only", payment.reference, payment.order_id, payment.amount, None, payment.currency)
        )

    refunds = list(
        await session.execute(
            select(PaymentRefund, Payment)
            .join(Payment, Payment.id == PaymentRefund.payment_id)
            .where(Payment.provider == provider.name, PaymentRefund.state == "succeeded")
            .where(PaymentRefund.done_at >= start - timedelta(days=1), PaymentRefund.done_at < end + timedelta(days=1))
        )
    )
    by_reference = {r.reference: (r, p) for r, p in refunds}
    by_provider_id = {r.provider_refund_id: (r, p) for r, p in refunds if r.provider_refund_id}
    seen: set[int] = set()
    for line in refund_lines:
        match = by_reference.get(line.refund_reference or "") or by_provider_id.get(line.refund_reference or "")
        reference = line.refund_reference or line.reference
        if match is None:
            found.append(Mismatch("refund_provider_only", reference, None, None, line.amount, line.currency))
            continue
        refund, payment = match
        seen.add(refund.id)
        if refund.amount != line.amount:
            found.append(
                Mismatch("refund_amount", reference, payment.order_id, refund.amount, line.amount, line.currency)
            )
    for refund, payment in refunds:
        assert refund.done_at is not None
        if refund.id not in seen and start <= refund.done_at < end:
            found.append(
                Mismatch(
                    "refund_knowcast_only", refund.reference, payment.order_id, refund.amount, None, payment.currency
                )
            )
    return found


async def _confirmed(provider: PaymentProvider, payment: Payment) -> bool:
    """Does the provider itself say this payment was made, for this amount (a line on another day's statement)?"""
    try:
        event = await provider.query(payment.reference)
    except Exception:
        log.exception("reconciliation query failed", extra={"reference": payment.reference})
        return False
    return (
        event is not None and event.kind in (EventKind.SUCCEEDED, EventKind.REFUNDED) and event.amount == payment.amount
    )


async def run(ctx: AppContext, provider_name: str, day: date) -> Report:
    """Reconcile one provider's day: download its statement, compare, keep and announce the mismatches."""
    provider = provider_for(ctx, provider_name)
    statement = await provider.statement(day)
    async with ctx.db.session() as session:
        found = await compare(session, provider, statement)
        fresh: list[Mismatch] = []
        for item in found:
            session.add(
                PaymentMismatch(
                    provider=provider.name,
                    day=day.isoformat(),
                    kind=item.kind,
                    reference=item.reference,
                    order_id=item.order_id,
                    ours=item.ours,
                    theirs=item.theirs,
                    currency=item.currency,
                )
            )
            try:
                await session.commit()
                fresh.append(item)
            except IntegrityError:  # found by an earlier run
                await session.rollback()
        record = await session.scalar(
            select(ReconciliationRun).where(
                ReconciliationRun.provider == provider.name, ReconciliationRun.day == day.isoformat()
            )
        )
        if record is None:
            record = ReconciliationRun(provider=provider.name, day=day.isoformat())
            session.add(record)
        record.finished_at, record.lines, record.mismatches, record.error = (
            utcnow(),
            len(statement.lines),
            len(found),
            None,
        )
        await session.commit()
    for item in fresh:
        data = {"provider": provider.name, "day": day.isoformat(), **asdict(item)}
        await ctx.bus.publish(Event(EVENT, data))
    if found:
        log.warning(
            "reconciliation found mismatches", extra={"provider": provider.name, "day": str(day), "count": len(found)}
        )
    return Report(provider.name, day, len(statement.lines), found, len(fresh))


async def claim(ctx: AppContext, provider: str, day: date) -> bool:
    """Take the nightly run of a provider's day (one process wins; the others see its row)."""
    async with ctx.db.session() as session:
        session.add(ReconciliationRun(provider=provider, day=day.isoformat()))
        try:
            await session.commit()
        except IntegrityError:
            return False
    return True


async def nightly(ctx: AppContext, now: datetime | None = None) -> list[Report]:
    """Once the providers' bills of yesterday are out (``payment_reconcile_hour``, China Standard Time),
    reconcile yesterday for every enabled provider that keeps a statement, once."""
    moment = (now or utcnow()).astimezone(ZoneInfo("Asia/Shanghai"))
    if moment.hour < ctx.settings.payment_reconcile_hour:
        return []
    reports: list[Report] = []
    for name, provider in ctx.runtime(CommerceRuntime).providers.items():
        if name == "sandbox":
            continue
        day = (moment.astimezone(ZoneInfo(provider.statement_timezone)) - timedelta(days=1)).date()
        if not await claim(ctx, name, day):
            continue
        try:
            reports.append(await run(ctx, name, day))
        except Exception as exc:
            log.exception("nightly reconciliation failed", extra={"provider": name, "day": str(day)})
            async with ctx.db.session() as session:
                record = await session.scalar(
                    select(ReconciliationRun).where(
                        ReconciliationRun.provider == name, ReconciliationRun.day == day.isoformat()
                    )
                )
                if record is not None:
                    record.error = f"{type(exc).__name__}: {exc}"[:300]
                    await session.commit()
    return reports


async def open_mismatches(session: AsyncSession, limit: int = 200) -> list[PaymentMismatch]:
    query = select(PaymentMismatch).where(PaymentMismatch.resolved_at.is_(None))
    return list(await session.scalars(query.order_by(PaymentMismatch.id.desc()).limit(limit)))


async def recent_runs(session: AsyncSession, limit: int = 30) -> list[ReconciliationRun]:
    return list(await session.scalars(select(ReconciliationRun).order_by(ReconciliationRun.id.desc()).limit(limit)))


async def resolve(session: AsyncSession, mismatch_id: int, actor_id: int) -> PaymentMismatch:
    from knowcast.privacy import audit

    row = await session.get(PaymentMismatch, mismatch_id)
    if row is None:
        raise NotFound("no such mismatch", code=CommerceCode.PAYMENT_MISMATCH_NOT_FOUND)
    if row.resolved_at is None:
        row.resolved_at = utcnow()
        audit.record(session, actor_id, "payment.mismatch_resolved", "payment_mismatch", row.id, kind=row.kind)
        await session.commit()
    return row
