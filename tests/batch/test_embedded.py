"""The embedded default: a gateway on SQLite whose in-process Celery worker (SQLite broker) runs
batches with nothing else started; the official SDK drives the Files and Batches API."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import openai
import pytest
import sqlalchemy as sa

from billing.batch_models import Batch, BatchChunk
from billing.budgets.definitions import set_budget
from billing.db import db_session
from billing.models import UsageRecord
from gateway.batches import chunks, runtime
from gateway.batches.dispatch import publish_chunks
from gateway.batches.store import line_request_id
from tests.batch.conftest import CHEAP, batch_env, chat_line, file_lines, jsonl, model_list, priced, upload, wait_for
from tests.fakes.openai_upstream import Failure, FakeOpenAI
from tests.support.gateway import GatewayUnderTest, start_gateway

ENV = {"chunk_size": 10, "line_concurrency": 4, "lease_seconds": 2, "sweep_seconds": 0.3, "stall_seconds": 2, "max_file_bytes": 64 * 1024, "retry_backoff_seconds": 0.05}


@pytest.fixture(scope="module")
def gw(fake: FakeOpenAI, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayUnderTest]:
    tmp = tmp_path_factory.mktemp("embedded")
    with batch_env(**ENV):
        gateway = start_gateway(f"sqlite:///{tmp}/tokenmill.db", str(tmp), model_list=model_list(fake), cache={"enabled": False})
        try:
            assert gateway.services.jobs is not None, "the embedded worker should run: no Redis is configured"
            yield gateway
        finally:
            gateway.stop()


def ledger(gw: GatewayUnderTest, batch_id: str) -> list[UsageRecord]:
    return gw.usage_rows(run_id=batch_id)


def upstream_calls(fake: FakeOpenAI, marker: str) -> int:
    return sum(1 for body in fake.requests if marker in str(body.get("messages")))


def test_a_small_job_runs_through_the_sdk_with_nothing_else_started(gw, fake):
    client = gw.openai(gw.new_key("round-trip"))
    items = [chat_line(f"req-{i}", text=f"round trip {i} " + "word " * (i % 4)) for i in range(25)]
    source = upload(client, items)
    assert (source.purpose, source.bytes, source.status) == ("batch", len(jsonl(items)), "processed")
    created = client.batches.create(input_file_id=source.id, endpoint="/v1/chat/completions", completion_window="24h", metadata={"team": "search"})
    assert created.status == "in_progress" and created.request_counts.total == 25 and created.metadata == {"team": "search"}

    done = wait_for(client, created.id)
    assert done.status == "completed" and (done.request_counts.completed, done.request_counts.failed) == (25, 0)
    assert done.in_progress_at and done.finalizing_at and done.completed_at and done.error_file_id is None
    out = file_lines(client, done.output_file_id)
    assert [line["custom_id"] for line in out] == [f"req-{i}" for i in range(25)]  # input order
    for i, line in enumerate(out):
        assert line["response"]["status_code"] == 200 and line["error"] is None
        assert line["response"]["body"]["choices"][0]["message"]["content"] == f"echo: {items[i]['body']['messages'][0]['content']}"
        assert line["response"]["request_id"] == line_request_id(created.id, f"req-{i}", 0)

    rows = ledger(gw, created.id)
    assert sorted(r.request_id for r in rows) == sorted(line["response"]["request_id"] for line in out)
    assert sum(r.cost_nanos for r in rows) == priced(out, CHEAP)
    assert done.usage.input_tokens == sum(r.prompt_tokens for r in rows)
    assert [b.id for b in client.batches.list()][:1] == [created.id]
    assert upstream_calls(fake, "round trip") == 25


def test_an_upload_without_a_content_length_is_cut_off_at_the_size_limit(gw):
    import select
    import socket
    from urllib.parse import urlsplit

    url = urlsplit(gw.base_url)
    head = b'--b\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nbatch\r\n--b\r\nContent-Disposition: form-data; name="file"; filename="x.jsonl"\r\n\r\n'
    sent, answer = 0, b""
    with socket.create_connection((url.hostname, url.port), timeout=10) as sock:
        sock.sendall(
            f"POST {url.path}/files HTTP/1.1\r\nHost: {url.hostname}\r\nAuthorization: Bearer {gw.new_key('chunked-co')}\r\n"
            "Content-Type: multipart/form-data; boundary=b\r\nTransfer-Encoding: chunked\r\n\r\n".encode()
        )
        piece = head + b"x" * 65536
        while sent < 64 * 1024 * 1024:  # a chunked upload far over the limit, until the server answers
            if select.select([sock], [], [], 0.01)[0]:
                answer = sock.recv(65536)
                break
            try:
                sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
            except OSError:  # the server answered and closed while we were still sending
                answer = sock.recv(65536)
                break
            sent += len(piece)
            piece = b"x" * 65536
    assert answer.startswith(b"HTTP/1.1 400") and b"file_too_large" in answer, answer[:300]
    assert sent < 4 * 1024 * 1024, sent  # it stopped reading about the limit in, not at the end


def test_files_can_be_listed_paged_read_and_deleted(gw):
    client = gw.openai(gw.new_key("files-co"))
    made = [upload(client, [chat_line(f"f{n}-{i}") for i in range(2)], name=f"f{n}.jsonl") for n in range(3)]
    assert client.files.retrieve(made[1].id).filename == "f1.jsonl"
    assert client.files.content(made[0].id).read() == jsonl([chat_line(f"f0-{i}") for i in range(2)])
    first = client.files.list(limit=2)
    assert [f.id for f in first.data] == [made[2].id, made[1].id] and first.has_more
    assert [f.id for f in client.files.list(limit=2, after=made[1].id).data] == [made[0].id]
    assert [f.id for f in client.files.list(order="asc")] == [f.id for f in made]
    assert client.files.delete(made[0].id).deleted
    with pytest.raises(openai.NotFoundError):
        client.files.retrieve(made[0].id)
    with pytest.raises(openai.NotFoundError):
        client.files.delete(made[0].id)


def test_a_key_sees_only_its_own_tenant_s_files_and_batches(gw):
    mine, theirs = gw.openai(gw.new_key("tenant-a")), gw.openai(gw.new_key("tenant-b"))
    source = upload(mine, [chat_line("only-a")])
    batch = mine.batches.create(input_file_id=source.id, endpoint="/v1/chat/completions", completion_window="24h")
    for call in (lambda: theirs.files.retrieve(source.id), lambda: theirs.files.content(source.id), lambda: theirs.batches.retrieve(batch.id), lambda: theirs.batches.cancel(batch.id)):
        with pytest.raises(openai.NotFoundError):
            call()
    with pytest.raises(openai.BadRequestError, match="No such File"):
        theirs.batches.create(input_file_id=source.id, endpoint="/v1/chat/completions", completion_window="24h")
    assert source.id not in {f.id for f in theirs.files.list()} and batch.id not in {b.id for b in theirs.batches.list()}
    wait_for(mine, batch.id)


def test_uploads_with_bad_lines_or_over_the_size_limit_get_a_clear_400(gw):
    client = gw.openai(gw.new_key("upload-co"))
    cases = {
        b'{"custom_id": "a"\n': "not valid JSON",
        jsonl([chat_line("same"), chat_line("same")]): "already used on line 1",
        jsonl([{**chat_line("m"), "method": "PUT"}]): 'method must be "POST"',
        jsonl([{**chat_line("u"), "url": "/v1/responses"}]): "is not one of",
        b"x" * (ENV["max_file_bytes"] + 1): "larger than the limit",
    }
    for data, message in cases.items():
        with pytest.raises(openai.BadRequestError, match=message):
            upload(client, data)
    with pytest.raises(openai.BadRequestError, match="purpose must be"):
        client.files.create(file=("x.jsonl", jsonl([chat_line("p")])), purpose="fine-tune")
    assert list(client.files.list()) == []


def test_lines_the_key_or_the_models_refuse_fail_the_batch_before_any_runs(gw, fake):
    client = gw.openai(gw.new_key("strict-co", allowed_models=["cheap", "embed"]))
    items = [
        chat_line("fine"),
        chat_line("unknown", model="no-such-model"),
        chat_line("forbidden", model="strong"),
        {**chat_line("elsewhere"), "url": "/v1/embeddings"},
        chat_line("embedder", model="embed"),
        {**chat_line("bad-body"), "body": {"model": "cheap", "messages": "hi"}},
    ]
    batch = client.batches.create(input_file_id=upload(client, items).id, endpoint="/v1/chat/completions", completion_window="24h")
    assert batch.status == "failed" and batch.failed_at and batch.request_counts.total == 0
    assert [(e.line, e.code) for e in batch.errors.data] == [
        (2, "model_not_found"), (3, "model_not_allowed"), (4, "mismatched_url"), (5, "wrong_endpoint"), (6, "invalid_body"),
    ]
    assert "no-such-model" in batch.errors.data[0].message
    assert upstream_calls(fake, "question fine") == 0  # not one line ran


def test_bad_create_requests_are_refused(gw):
    client = gw.openai(gw.new_key("params-co"))
    source = upload(client, [chat_line("one")])
    with pytest.raises(openai.BadRequestError, match="completion_window"):
        client.batches.create(input_file_id=source.id, endpoint="/v1/chat/completions", completion_window="1h")  # type: ignore[arg-type]
    with pytest.raises(openai.BadRequestError, match="endpoint"):
        client.batches.create(input_file_id=source.id, endpoint="/v1/responses", completion_window="24h")  # type: ignore[arg-type]
    with pytest.raises(openai.BadRequestError, match="No such File"):
        client.batches.create(input_file_id="file-missing", endpoint="/v1/chat/completions", completion_window="24h")
    for wrong_type in ({"endpoint": ["/v1/chat/completions"]}, {"completion_window": {"hours": 24}}):  # JSON that is not a string
        fields = {"input_file_id": source.id, "endpoint": "/v1/chat/completions", "completion_window": "24h", **wrong_type}
        with pytest.raises(openai.BadRequestError, match=next(iter(wrong_type))):
            client.post("/batches", body=fields, cast_to=openai.types.Batch)


def test_upstream_errors_go_to_the_error_file_keyed_by_custom_id(gw, fake):
    fake.script("batch-broken", failures=[Failure(400)] * 3)
    client = gw.openai(gw.new_key("mixed-co"))
    items = [chat_line("good-1"), chat_line("bad-1", model="broken"), chat_line("good-2"), chat_line("bad-2", model="broken"), chat_line("bad-3", model="broken")]
    done = wait_for(client, client.batches.create(input_file_id=upload(client, items).id, endpoint="/v1/chat/completions", completion_window="24h").id)
    assert done.status == "completed" and (done.request_counts.completed, done.request_counts.failed) == (2, 3)
    assert [line["custom_id"] for line in file_lines(client, done.output_file_id)] == ["good-1", "good-2"]
    errors = file_lines(client, done.error_file_id)
    assert [line["custom_id"] for line in errors] == ["bad-1", "bad-2", "bad-3"]
    assert all(line["response"]["status_code"] == 400 and "scripted failure" in line["response"]["body"]["error"]["message"] for line in errors)
    assert len(ledger(gw, done.id)) == 5  # every line that ran has its usage row, failed ones too


def test_a_rate_limited_line_waits_and_retries_under_a_new_request_id(gw, fake):
    fake.script("batch-flaky", failures=[Failure(429, retry_after=0), Failure(429, retry_after=0)])
    client = gw.openai(gw.new_key("patient-co"))
    items = [chat_line("steady"), chat_line("limited", model="flaky")]
    done = wait_for(client, client.batches.create(input_file_id=upload(client, items).id, endpoint="/v1/chat/completions", completion_window="24h").id)
    assert (done.status, done.request_counts.completed, done.request_counts.failed) == ("completed", 2, 0)
    limited = file_lines(client, done.output_file_id)[1]
    assert limited["custom_id"] == "limited" and limited["response"]["request_id"] == line_request_id(done.id, "limited", 2)
    rows = {r.request_id: r for r in ledger(gw, done.id)}
    tries = [rows[line_request_id(done.id, "limited", attempt)] for attempt in range(3)]
    assert [(r.status_code, r.cost_nanos > 0) for r in tries] == [(429, False), (429, False), (200, True)]  # each try has its own row


def test_the_tenants_own_rate_limit_paces_a_batch_instead_of_failing_its_lines(gw):
    key = gw.new_key("paced-co")
    with gw.http(gw.admin_key) as http:
        tenant = http.get("/admin/api/tenants").json()["data"]
        tenant_id = next(t["id"] for t in tenant if t["name"] == "paced-co")
        assert http.post("/admin/api/rate-limits", json={"tenant_id": tenant_id, "rpm": 30}).status_code == 201
    client = gw.openai(key)
    items = [chat_line(f"paced-{i:02d}") for i in range(34)]  # 4 more than the minute's burst; 2 s apart after it
    done = wait_for(client, client.batches.create(input_file_id=upload(client, items).id, endpoint="/v1/chat/completions", completion_window="24h").id, timeout=120)
    assert (done.status, done.request_counts.completed, done.request_counts.failed) == ("completed", 34, 0)
    rows = ledger(gw, done.id)
    assert sum(r.status_code == 200 for r in rows) == 34 and {r.status_code for r in rows} <= {200, 429}


def _counter(gw: GatewayUnderTest, budget_id: str):  # noqa: ANN202 - CounterState
    rt = runtime.gateway_runtime()
    counter_id = f"{budget_id}:{datetime.now(UTC):%Y-%m}"
    return rt.run(gw.services.admission.store.read([counter_id]))[counter_id]


def test_the_worst_case_is_held_when_accepted_refused_when_it_cannot_be_covered(gw):
    with db_session(gw.db) as session:
        from billing import accounts

        tenant = accounts.ensure_tenant(session, "budget-co")
        budget = set_budget(session, tenant_id=tenant.id, limit_usd=0.01, period="monthly")
    client = gw.openai(gw.new_key("budget-co"))
    gw.wait_until(lambda: any(b.id == budget.id for b in gw.services.admission.book.all()), timeout=10)
    # 40 lines of up to 4,000 output tokens at $2e-6 each: a worst case far above $0.01.
    big = upload(client, [chat_line(f"big-{i}", max_tokens=4000) for i in range(40)])
    with pytest.raises(openai.RateLimitError, match="cannot cover this batch") as refused:
        client.batches.create(input_file_id=big.id, endpoint="/v1/chat/completions", completion_window="24h")
    assert refused.value.code == "insufficient_quota"
    assert big.id not in {b.input_file_id for b in client.batches.list()}

    small = client.batches.create(input_file_id=upload(client, [chat_line(f"small-{i}", max_tokens=20) for i in range(30)]).id, endpoint="/v1/chat/completions", completion_window="24h")
    assert small.model_extra["tokenmill"]["budget_hold"] == "held"
    done = wait_for(client, small.id)
    assert done.status == "completed"
    spent = sum(r.cost_nanos for r in ledger(gw, small.id))
    state = _counter(gw, budget.id)
    assert (state.spent_nanos, state.reserved_nanos, state.reserved_tokens) == (spent, 0, 0)  # holds and lines all settled


def test_live_calls_cannot_take_the_room_a_running_batch_holds(gw, fake):
    def lines(model: str) -> list[dict]:
        return [chat_line(f"held-{i}", model=model, text="the same question", max_tokens=100) for i in range(8)]

    # The same lines on a model of the same price, under a tenant with no budget: their worst case.
    prober = gw.openai(gw.new_key("held-probe"))
    probe = prober.batches.create(input_file_id=upload(prober, lines("cheap")).id, endpoint="/v1/chat/completions", completion_window="24h")
    worst = round(float(probe.model_extra["tokenmill"]["worst_case_usd"]) * 1e9)
    per_line = worst // 8
    fake.script("batch-slow", first_byte_delay=1.5)  # no line settles for a while after its chunk starts
    with db_session(gw.db) as session:
        from billing import accounts

        tenant = accounts.ensure_tenant(session, "held-co")
        # Half a line's worst case left beside the batch's hold.
        budget = set_budget(session, tenant_id=tenant.id, limit_usd=(worst + per_line // 2) / 1e9, period="monthly")
    client = gw.openai(gw.new_key("held-co"))
    gw.wait_until(lambda: any(b.id == budget.id for b in gw.services.admission.book.all()), timeout=10)
    batch = client.batches.create(input_file_id=upload(client, lines("slow")).id, endpoint="/v1/chat/completions", completion_window="24h")
    assert batch.model_extra["tokenmill"]["budget_hold"] == "held"
    gw.wait_until(lambda: upstream_calls(fake, "the same question") > 8, timeout=10)  # past the probe: lines in flight
    # 2.5 lines' worth: more than the free room, less than what the chunk's hold minus its 4 lines in
    # flight would free if the chunk let its hold go before its lines took their share.
    with pytest.raises(openai.RateLimitError) as refused:
        client.chat.completions.create(model="cheap", messages=[{"role": "user", "content": "live"}], max_tokens=int(2.5 * per_line / 2_000))
    assert refused.value.code == "insufficient_quota"
    done = wait_for(client, batch.id)
    assert (done.status, done.request_counts.completed, done.request_counts.failed) == ("completed", 8, 0)
    state = _counter(gw, budget.id)
    assert (state.spent_nanos, state.reserved_nanos) == (sum(r.cost_nanos for r in ledger(gw, batch.id)), 0)


def test_a_job_cancelled_mid_run_stops_and_keeps_what_finished(gw, fake):
    fake.script("batch-slow", first_byte_delay=0.15)
    client = gw.openai(gw.new_key("cancel-co"))
    batch = client.batches.create(input_file_id=upload(client, [chat_line(f"c-{i}", model="slow") for i in range(60)]).id, endpoint="/v1/chat/completions", completion_window="24h")
    wait_for(client, batch.id, lambda b: b.request_counts.completed >= 8)
    cancelling = client.batches.cancel(batch.id)
    assert cancelling.status in ("cancelling", "cancelled") and cancelling.cancelling_at
    done = wait_for(client, batch.id)
    assert done.status == "cancelled" and done.cancelled_at
    ok = file_lines(client, done.output_file_id)
    not_run = file_lines(client, done.error_file_id)
    assert 8 <= len(ok) < 60 and done.request_counts.completed == len(ok) and done.request_counts.failed == len(not_run) == 60 - len(ok)
    assert sorted(line["custom_id"] for line in ok + not_run) == sorted(f"c-{i}" for i in range(60))
    assert all(line["error"]["code"] == "batch_cancelled" and line["response"] is None for line in not_run)
    assert len(ledger(gw, batch.id)) == len(ok)  # lines in flight at the cancel finished and are billed; the rest never ran
    assert upstream_calls(fake, "question c-") == len(ok)
    with pytest.raises(openai.ConflictError):
        client.batches.cancel(wait_for(client, client.batches.create(input_file_id=upload(client, [chat_line("late")]).id, endpoint="/v1/chat/completions", completion_window="24h").id).id)


def test_a_batch_past_its_window_expires_with_its_unrun_lines_reported(gw, fake):
    fake.script("batch-slow", first_byte_delay=0.15)
    client = gw.openai(gw.new_key("expiry-co"))
    batch = client.batches.create(input_file_id=upload(client, [chat_line(f"e-{i}", model="slow") for i in range(60)]).id, endpoint="/v1/chat/completions", completion_window="24h")
    wait_for(client, batch.id, lambda b: b.request_counts.completed >= 4)
    with gw.db.begin() as conn:  # as if 24 hours had passed
        conn.execute(sa.update(Batch.__table__).where(Batch.__table__.c.id == batch.id).values(expires_at=1))
    done = wait_for(client, batch.id)
    assert done.status == "expired" and done.expired_at
    ok, not_run = file_lines(client, done.output_file_id), file_lines(client, done.error_file_id)
    assert len(ok) + len(not_run) == 60 and ok and not_run
    assert {line["error"]["code"] for line in not_run} == {"batch_expired"}


def test_a_chunk_run_again_after_its_lines_finished_sends_and_bills_nothing(gw, fake):
    client = gw.openai(gw.new_key("redo-co"))
    done = wait_for(client, client.batches.create(input_file_id=upload(client, [chat_line(f"r-{i}", text=f"redo {i}") for i in range(20)]).id, endpoint="/v1/chat/completions", completion_window="24h").id)
    assert done.status == "completed"
    before_calls, before_rows = upstream_calls(fake, "redo"), len(ledger(gw, done.id))
    # A worker that died after writing its lines but before marking its chunk done, and the
    # broker (or the sweep) delivering the chunk again: the batch reopens and runs the chunk.
    with gw.db.begin() as conn:
        conn.execute(sa.update(BatchChunk.__table__).where(BatchChunk.__table__.c.batch_id == done.id).values(done=False))
        conn.execute(sa.update(Batch.__table__).where(Batch.__table__.c.id == done.id).values(status="in_progress"))
    publish_chunks(gw.settings, gw.db, done.id, [0, 1])
    again = wait_for(client, done.id, lambda b: b.status == "completed" and b.output_file_id != done.output_file_id)
    assert (upstream_calls(fake, "redo"), len(ledger(gw, done.id))) == (before_calls, before_rows) == (20, 20)
    assert [line["custom_id"] for line in file_lines(client, again.output_file_id)] == [f"r-{i}" for i in range(20)]


def test_a_chunk_is_not_taken_once_its_batch_is_past_its_window(gw):
    client = gw.openai(gw.new_key("late-co"))
    done = wait_for(client, client.batches.create(input_file_id=upload(client, [chat_line("l-0")]).id, endpoint="/v1/chat/completions", completion_window="24h").id)
    reopen = {"status": "in_progress", "lease_owner": None, "lease_until_ms": 0}
    with gw.db.begin() as conn:  # as if its chunk were delivered again, still to run
        conn.execute(sa.update(BatchChunk.__table__).where(BatchChunk.__table__.c.batch_id == done.id).values(done=False, owner=None, lease_until_ms=0))
        conn.execute(sa.update(Batch.__table__).where(Batch.__table__.c.id == done.id).values(**reopen))
    assert chunks.claim(gw.db, done.id, 0, "late-worker", 60_000) is not None
    with gw.db.begin() as conn:  # the same, after its completion window
        conn.execute(sa.update(BatchChunk.__table__).where(BatchChunk.__table__.c.batch_id == done.id).values(done=False, owner=None, lease_until_ms=0))
        conn.execute(sa.update(Batch.__table__).where(Batch.__table__.c.id == done.id).values(**reopen, expires_at=1))
    assert chunks.claim(gw.db, done.id, 0, "late-worker", 60_000) is None  # no line goes upstream after the window


def test_batches_list_pages_with_after_and_limit(gw):
    client = gw.openai(gw.new_key("paging-co"))
    source = upload(client, [chat_line("p")])
    made = [client.batches.create(input_file_id=source.id, endpoint="/v1/chat/completions", completion_window="24h").id for _ in range(3)]
    page = client.batches.list(limit=2)
    assert [b.id for b in page.data] == made[:0:-1] and page.has_more
    assert [b.id for b in client.batches.list(limit=2, after=made[1]).data] == [made[0]]
    assert [b.id for b in client.batches.list()] == made[::-1]  # the SDK's auto-paging follows has_more
    for batch_id in made:
        wait_for(client, batch_id)


def test_the_admin_page_shows_batches_with_live_progress(gw, fake):
    from tests.web.support import AdminClient

    fake.script("batch-slow", first_byte_delay=0.15)
    client = gw.openai(gw.new_key("ui-co"))
    running = client.batches.create(input_file_id=upload(client, [chat_line(f"ui-{i}", model="slow") for i in range(30)]).id, endpoint="/v1/chat/completions", completion_window="24h")
    failed = client.batches.create(input_file_id=upload(client, [chat_line("ui-bad", model="no-such-model")]).id, endpoint="/v1/chat/completions", completion_window="24h")
    admin = AdminClient(gw.url)
    try:
        admin.sign_in(gw.admin_key)
        wait_for(client, running.id, lambda b: b.request_counts.completed >= 4)
        page = admin.get("/admin/batches")
        assert page.status_code == 200 and running.id in page.text and failed.id in page.text
        assert 'http-equiv="refresh"' in page.text  # a batch is running: the page keeps itself current
        row = page.text.split(f'data-batch="{running.id}"', 1)[1].split("</tr>", 1)[0]
        assert "in_progress" in row and "/ 30" in row
        detail = admin.get(f"/admin/batches/{failed.id}")
        assert "model_not_found" in detail.text and "no-such-model" in detail.text
        wait_for(client, running.id)
        page = admin.get("/admin/batches")
        assert 'http-equiv="refresh"' not in page.text
        row = page.text.split(f'data-batch="{running.id}"', 1)[1].split("</tr>", 1)[0]
        assert "completed" in row and "30 / 30" in row
        assert admin.get("/admin/batches/batch_nope").status_code == 404
    finally:
        admin.close()
