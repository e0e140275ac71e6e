"""Chunked ciphertext in PostgreSQL as streams: read by a thread, written from the loop.

Tink's streams are synchronous, the database is not. ``ChunkFeed`` fetches an import's
chunks one at a time, each in a short tenant transaction of its own (so they can be read
while another transaction of the same task writes rows), and hands them to a thread
through a bounded queue; ``ChunkSource`` is the file-like the thread reads, so memory stays
bounded whatever the file size. ``ReportSink`` goes the other way: what a run reports
(rows in error, a preview) is encrypted as it is written and cut into chunks to store.

Reports are encrypted with the tenant's import keyset under associated data naming the
import and the part, so a report chunk copied to another import does not open.

A caller that must read chunks in its own transaction (the tenant export, whose snapshot
every file must agree with) hands ``decrypted`` a ``CallerChunks``: the same stream, fed by
the caller's connection instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import io
import queue
import threading
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from domain.imports import repository as repo
from tenants.scope import TenantID, tenant_in_scope, tenant_transaction

QUEUE_DEPTH = 4
POLL_S = 0.2


ChunkFetch = Callable[[int], Awaitable[bytes | None]]
"""Fetches chunk ``seq`` of one part; None when it is not there."""


@dataclass(frozen=True)
class CallerChunks:
    """A part's chunks as the caller reads them: ``count`` of them, each by ``fetch(seq)``.

    For a caller whose own transaction must see the chunks (a snapshot the rest of its
    reads share), instead of the short tenant transactions ``decrypted`` opens by default.
    ``fetch`` runs in a task of its own while the caller consumes the plaintext: the
    caller's connection must not be used for anything else meanwhile.
    """

    count: int
    fetch: ChunkFetch


class StreamStoppedError(Exception):
    """The reader was told to stop (a cancelled or failed run)."""


class MissingChunkError(Exception):
    """A chunk the import row counts is not in the database (the upload was replaced)."""


def in_tenant(tenant: TenantID) -> contextlib.AbstractAsyncContextManager[Any]:
    """The caller's tenant transaction when one is open, else a short one of its own."""
    if tenant_in_scope() == tenant:
        return contextlib.nullcontext()
    return tenant_transaction(tenant)


def report_associated_data(tenant: TenantID, import_id: UUID, part: str) -> bytes:
    return f"renshi-import-report:v1:{tenant}:{import_id}:{part}".encode()


class ChunkSource(io.RawIOBase):
    """A readable stream over chunks put into ``chunks`` (``None`` ends it)."""

    def __init__(self, chunks: queue.Queue[bytes | BaseException | None], stop: threading.Event):
        super().__init__()
        self._chunks = chunks
        self._stop = stop
        self._current = memoryview(b"")
        self._ended = False
        self.consumed = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._current and not self._ended:
            item = self._next()
            if item is None:
                self._ended = True
            else:
                self._current = memoryview(item)
        if self._ended and not self._current:
            return 0
        size = min(len(buffer), len(self._current))
        buffer[:size] = self._current[:size]
        self._current = self._current[size:]
        self.consumed += size
        return size

    def _next(self) -> bytes | None:
        while True:
            if self._stop.is_set():
                raise StreamStoppedError
            try:
                item = self._chunks.get(timeout=POLL_S)
            except queue.Empty:
                continue
            if isinstance(item, BaseException):
                raise item
            return item


async def put_blocking(target: queue.Queue[Any], item: Any, stop: threading.Event) -> bool:
    """Put ``item`` into a thread's queue without blocking the loop; False once stopped."""
    while not stop.is_set():
        try:
            target.put_nowait(item)
            return True
        except queue.Full:
            await asyncio.sleep(0.01)
    return False


async def get_blocking(source: queue.Queue[Any], stop: threading.Event | None = None) -> Any:
    """The next item a thread put into ``source``, waited for without blocking the loop."""
    delay = 0.001
    while True:
        try:
            return source.get_nowait()
        except queue.Empty:
            if stop is not None and stop.is_set():
                raise StreamStoppedError from None
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.02)


async def feed_chunks(
    tenant: TenantID,
    import_id: UUID,
    part: str,
    count: int,
    target: queue.Queue[bytes | BaseException | None],
    stop: threading.Event,
    on_chunk: Callable[[int], None] | None = None,
    fetch: ChunkFetch | None = None,
) -> None:
    """Fetch chunks ``0..count-1`` of ``part`` into ``target``, then ``None``: by ``fetch``
    when given, else each in a short tenant transaction."""
    try:
        for seq in range(count):
            if fetch is not None:
                data = await fetch(seq)
            else:
                async with tenant_transaction(tenant):
                    data = await repo.get_chunk(tenant, import_id, part, seq)
            if data is None:
                await put_blocking(
                    target, MissingChunkError(f"chunk {seq} of {part} is missing"), stop
                )
                return
            if not await put_blocking(target, data, stop):
                return
            if on_chunk is not None:
                on_chunk(len(data))
        await put_blocking(target, None, stop)
    except Exception as exc:  # handed to the reader, which fails the run with it
        await put_blocking(target, exc, stop)


class _Collector(io.RawIOBase):
    """Where the encrypting stream writes: collected until taken."""

    def __init__(self) -> None:
        super().__init__()
        self.buffer = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self.buffer += data
        return len(data)

    def close(self) -> None:  # Tink closes its destination; the collected bytes must stay
        pass


class ReportSink:
    """Plaintext written in, ciphertext chunks of ``chunk_bytes`` taken out."""

    def __init__(self, primitive: Any, associated_data: bytes, chunk_bytes: int) -> None:
        self._collector = _Collector()
        self._stream = primitive.new_encrypting_stream(self._collector, associated_data)
        self._chunk_bytes = chunk_bytes
        self.closed = False

    def write(self, data: bytes) -> None:
        self._stream.write(data)

    def take(self) -> list[bytes]:
        """Complete chunks ready to store."""
        buffer, size = self._collector.buffer, self._chunk_bytes
        ready = []
        while len(buffer) >= size:
            ready.append(bytes(buffer[:size]))
            del buffer[:size]
        return ready

    def close(self) -> list[bytes]:
        """End the stream (its last segment authenticates the whole); the remaining chunks."""
        if not self.closed:
            self._stream.close()
            self.closed = True
        ready = self.take()
        if self._collector.buffer:
            ready.append(bytes(self._collector.buffer))
            self._collector.buffer.clear()
        return ready


async def decrypted(
    tenant: TenantID,
    import_id: UUID,
    part: str,
    open_stream: Callable[[io.RawIOBase], Any],
    *,
    piece_bytes: int = 64 * 1024,
    chunks: CallerChunks | None = None,
) -> AsyncGenerator[bytes, None]:
    """The plaintext of ``part``, piece by piece: chunks fetched here, decrypted by a thread.

    ``open_stream`` turns the ciphertext source into a readable plaintext stream. The
    chunks are read in short tenant transactions, or as ``chunks`` says when given.
    """
    if chunks is None:
        async with in_tenant(tenant):
            count = await repo.chunk_count(tenant, import_id, part)
    else:
        count = chunks.count
    if count == 0:
        return
    stop = threading.Event()
    ciphertext: queue.Queue[bytes | BaseException | None] = queue.Queue(maxsize=QUEUE_DEPTH)
    pieces: queue.Queue[bytes | BaseException | None] = queue.Queue(maxsize=QUEUE_DEPTH)
    source = ChunkSource(ciphertext, stop)

    def pump() -> None:
        try:
            stream = open_stream(source)
            while piece := stream.read(piece_bytes):
                if not _put_until_stopped(pieces, piece, stop):
                    return
            _put_until_stopped(pieces, None, stop)
        except StreamStoppedError:
            return
        except Exception as exc:
            _put_until_stopped(pieces, exc, stop)

    # A fresh context: the chunks are read in transactions of their own, never in one the
    # caller may have open (its connection may be busy with something else meanwhile).
    feeder = asyncio.create_task(
        feed_chunks(
            tenant,
            import_id,
            part,
            count,
            ciphertext,
            stop,
            fetch=chunks.fetch if chunks is not None else None,
        ),
        context=contextvars.Context(),
    )
    thread = threading.Thread(target=pump, name="renshi-report-decrypt", daemon=True)
    thread.start()
    try:
        while True:
            item = await get_blocking(pieces)
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        if chunks is None:
            feeder.cancel()
        # else: a query cancelled on the caller's connection would abort the caller's
        # transaction; the feeder ends by itself once the fetch in flight returns.
        await asyncio.gather(feeder, return_exceptions=True)
        await asyncio.to_thread(thread.join, 5)


def _put_until_stopped(target: queue.Queue[Any], item: Any, stop: threading.Event) -> bool:
    while not stop.is_set():
        try:
            target.put(item, timeout=POLL_S)
            return True
        except queue.Full:
            continue
    return False
