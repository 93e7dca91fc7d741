"""Live reminders: booking (idempotent, refused for ended rooms), mail through a real SMTP server when the room
goes live, in-site notifications and the badge, retries while the mail server is down, the calendar file."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from knowcast.accounts.models import Role
from knowcast.context import AppContext
from knowcast.growth import outbox
from knowcast.growth.models import MailJob, MailStatus
from knowcast.growth.worker import worker_of
from tests.growth.conftest import SmtpServer, Tarpit, eventually, go, make_room


async def test_booking_twice_is_one_booking(make_user: Any, client: Any) -> None:
    host, viewer = await make_user(Role.HOST), await make_user()
    room = await make_room(host)
    first = await viewer.client.put(f"/api/v1/rooms/{room['id']}/reminder")
    second = await viewer.client.put(f"/api/v1/rooms/{room['id']}/reminder")
    assert first.status_code == second.status_code == 200
    assert first.json() == {"room_id": room["id"], "booked": True, "created": True, "reminders": 1}
    assert second.json() == {"room_id": room["id"], "booked": True, "created": False, "reminders": 1}
    counted = await host.client.get(f"/api/v1/rooms/{room['id']}/reminders")
    assert counted.json() == {"room_id": room["id"], "reminders": 1, "notified": 0}
    anonymous = await client.get(f"/api/v1/rooms/{room['id']}/reminder")
    assert anonymous.json()["booked"] is False and anonymous.json()["reminders"] == 1
    cancelled = await viewer.client.delete(f"/api/v1/rooms/{room['id']}/reminder")
    assert cancelled.json()["booked"] is False and cancelled.json()["reminders"] == 0


async def test_an_ended_room_takes_no_reminders(make_user: Any) -> None:
    host, viewer = await make_user(Role.HOST), await make_user()
    room = await make_room(host)
    await go(host, room["id"], "ended")
    response = await viewer.client.put(f"/api/v1/rooms/{room['id']}/reminder")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "reminder.room_ended"


async def test_a_live_room_takes_no_reminders_and_anonymous_cannot_book(make_user: Any, client: Any) -> None:
    host, viewer = await make_user(Role.HOST), await make_user()
    room = await make_room(host)
    assert (await client.put(f"/api/v1/rooms/{room['id']}/reminder")).status_code == 401
    await go(host, room["id"], "live")
    response = await viewer.client.put(f"/api/v1/rooms/{room['id']}/reminder")
    assert response.json()["error"]["code"] == "reminder.room_live"
    assert (await viewer.client.put("/api/v1/rooms/999999/reminder")).status_code == 404


async def test_going_live_mails_and_notifies_every_booked_viewer_once(
    make_user: Any, ctx: AppContext, smtp: SmtpServer
) -> None:
    host = await make_user(Role.HOST)
    viewers = [await make_user() for _ in range(3)]
    bystander = await make_user()
    room = await make_room(host, title="Excel 高手速成")
    for viewer in viewers:
        await viewer.client.put(f"/api/v1/rooms/{room['id']}/reminder")
    await go(host, room["id"], "live")

    async def all_mailed() -> bool:
        return all(smtp.inbox.to(v.user.email) for v in viewers)

    await eventually(all_mailed)
    mail = smtp.inbox.to(viewers[0].user.email)[0]
    assert "Excel 高手速成" in str(mail["Subject"])
    body = mail.get_content()
    assert f"/rooms/{room['id']}?utm_source=reminder&utm_medium=email" in body
    assert smtp.inbox.to(bystander.user.email) == []

    listing = (await viewers[0].client.get("/api/v1/notifications")).json()
    assert listing["unread"] == 1
    assert listing["items"][0]["url"] == f"/rooms/{room['id']}" and listing["items"][0]["kind"] == "room.live"
    assert (await viewers[0].client.get("/api/v1/notifications/unread")).json() == {"unread": 1}
    assert (await bystander.client.get("/api/v1/notifications/unread")).json() == {"unread": 0}
    assert (await viewers[0].client.post("/api/v1/notifications/read")).json() == {"unread": 0}

    await go(host, room["id"], "reconnecting")  # the encoder dropped and came back: nobody is told twice
    await go(host, room["id"], "live")
    worker = worker_of(ctx)
    assert worker is not None
    await worker.run_once()
    assert len(smtp.inbox.messages) == 3
    counts = (await host.client.get(f"/api/v1/rooms/{room['id']}/reminders")).json()
    assert counts == {"room_id": room["id"], "reminders": 3, "notified": 3}


async def test_smtp_down_retries_with_backoff_and_never_blocks_going_live(
    make_user: Any, ctx: AppContext, smtp: SmtpServer
) -> None:
    host, viewer = await make_user(Role.HOST), await make_user()
    room = await make_room(host)
    await viewer.client.put(f"/api/v1/rooms/{room['id']}/reminder")
    smtp.stop()  # the mail server is down: connections are refused

    assert (await go(host, room["id"], "live"))["state"] == "live"

    async def failed_once() -> MailJob | None:
        async with ctx.db.session() as session:
            job = await session.scalar(select(MailJob))
            return job if job is not None and job.attempts >= 1 else None

    job = await eventually(failed_once)
    assert job.status is MailStatus.PENDING and job.last_error
    assert job.next_attempt_at is not None and job.next_attempt_at > job.created_at  # backed off, not dropped
    assert (await viewer.client.get("/api/v1/notifications/unread")).json() == {"unread": 1}  # the bell rang

    smtp.start()  # back up: an operator retries now instead of waiting out the backoff
    async with ctx.db.session() as session:
        assert await outbox.retry_now(session) == 1
    worker = worker_of(ctx)
    assert worker is not None
    worker.wake()
    await eventually(lambda: _async(smtp.inbox.to(viewer.user.email)))
    async with ctx.db.session() as session:
        sent = await session.scalar(select(MailJob))
        assert sent is not None and sent.status is MailStatus.SENT and sent.attempts == 2


async def test_a_hanging_mail_server_does_not_hold_up_going_live(
    make_user: Any, ctx: AppContext, settings: Any
) -> None:
    """The mail server accepts the connection and never answers; the host still goes live and the bell rings."""
    tarpit = Tarpit()
    worker = worker_of(ctx)
    assert worker is not None
    worker.mailer.port = tarpit.port  # type: ignore[attr-defined]
    try:
        host, viewer = await make_user(Role.HOST), await make_user()
        room = await make_room(host)
        await viewer.client.put(f"/api/v1/rooms/{room['id']}/reminder")
        assert (await go(host, room["id"], "live"))["state"] == "live"
        await eventually(lambda: _unread(viewer))
    finally:
        tarpit.close()


async def _unread(member: Any) -> bool:
    return bool((await member.client.get("/api/v1/notifications/unread")).json()["unread"])


async def _async(value: Any) -> Any:
    return value


async def test_calendar_file(make_user: Any, client: Any) -> None:
    host = await make_user(Role.HOST, name="王老师")
    long_title = "长标题，带逗号；分号\\反斜杠 " + "很长" * 40
    room = await make_room(host, title=long_title[:120], description="第一行\n第二行")
    response = await client.get(f"/rooms/{room['id']}/calendar.ics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/calendar")
    raw = response.content
    lines = raw.split(b"\r\n")
    assert all(len(line) <= 75 for line in lines)
    text = raw.decode("utf-8")  # folding never split a character
    unfolded = text.replace("\r\n ", "")
    assert "BEGIN:VEVENT" in unfolded and f"UID:room-{room['id']}@127.0.0.1" in unfolded
    assert "SUMMARY:长标题\\，带逗号\\；分号\\\\反斜杠" not in unfolded  # full-width punctuation is not escaped
    assert "SUMMARY:长标题，带逗号；分号\\\\反斜杠" in unfolded
    assert "DESCRIPTION:第一行\\n第二行" in unfolded
    assert "DTSTART:" in unfolded and "BEGIN:VALARM" in unfolded
    assert (await client.get("/rooms/999999/calendar.ics")).status_code == 404
