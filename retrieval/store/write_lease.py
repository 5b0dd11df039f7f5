"""One writer per library on a Chroma server, across processes and machines.

Several bots and CLI runs may share one ``chroma run`` server, so a lock on a folder cannot keep
two of them from writing one library at once (both would find an article missing and add it). The
lease is a collection, ``newsbot-lock--<library>``, whose metadata names its holder and when it
expires. Creating a collection whose name exists fails on the server, atomically: whoever creates
it holds the lease. The holder renews the expiry from a heartbeat thread and deletes the collection
when its write is done; others poll, and take over a lease whose holder died without releasing it
once it has expired: they rename that collection (by its id, so a fresh lease of the same name is
never touched) out of the way and create the name again, the create still deciding who wins.
Expiry compares the holder's clock with the waiter's: keep the lease longer than their skew.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from chromadb.errors import NotFoundError

from retrieval.store.owners import Holder, OnWait, Owner, waiting_for

log = logging.getLogger(__name__)
PREFIX = "newsbot-lock--"  # never a library: their names hold no "--"
_EXPIRES = "expires"


class WriteLeases:
    """Write leases on the libraries of one Chroma server, for one process."""

    def __init__(
        self,
        client: Any,
        owner: Owner,
        *,
        seconds: float = 30.0,
        on_wait: OnWait | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._client = client
        self._me = Holder.me(owner)
        self.seconds = seconds
        self._on_wait = on_wait
        self._clock = clock

    @contextlib.contextmanager
    def hold(self, library: str) -> Iterator[None]:
        """Hold ``library``'s lease for the block (waiting for its holder first, if any)."""
        lease = self._acquire(PREFIX + library)
        stop = threading.Event()
        beat = threading.Thread(target=self._renew, args=(lease, stop), name="newsbot-lease", daemon=True)
        beat.start()
        try:
            yield
        finally:
            stop.set()
            beat.join()
            self._release(lease)

    def _record(self) -> dict[str, Any]:
        return {**self._me.record(), _EXPIRES: self._clock() + self.seconds}

    def _acquire(self, name: str) -> Any:
        told: Holder | None = None
        poll = min(0.5, self.seconds / 10)
        missing = False
        while True:
            try:
                return self._client.create_collection(name, metadata=self._record(), embedding_function=None)
            except Exception as refused:  # noqa: BLE001 - "already exists" has no type of its own: look
                try:
                    held = self._client.get_collection(name, embedding_function=None)
                except NotFoundError:
                    if missing:  # refused twice, yet nobody holds it: a failure of the server's
                        raise refused from None
                    missing = True  # released in between: create again
                    continue
            missing = False
            record = held.metadata or {}
            holder = Holder.of(record)
            if float(record.get(_EXPIRES, 0)) < self._clock():
                self._take_over(held, holder)
                continue
            if self._on_wait is not None and holder != told:
                self._on_wait(waiting_for(holder, f"library '{name[len(PREFIX):]}'"))
                told = holder
            time.sleep(poll)

    def _take_over(self, stale: Any, holder: Holder | None) -> None:
        """Move an expired lease out of the way (by id: a fresher lease of the name is untouched)."""
        name = stale.name
        tombstone = f"{name}--expired-{uuid.uuid4().hex}"
        try:
            stale.modify(name=tombstone)
        except NotFoundError:
            return  # another waiter moved it first
        log.warning("Took over the expired write lease of library '%s' from %s", name[len(PREFIX) :], holder)
        with contextlib.suppress(NotFoundError):
            self._client.delete_collection(tombstone)

    def _renew(self, lease: Any, stop: threading.Event) -> None:
        while not stop.wait(self.seconds / 3):
            try:
                if self._client.get_collection(lease.name, embedding_function=None).id != lease.id:
                    raise NotFoundError(lease.name)
                lease.modify(metadata=self._record())
            except NotFoundError:
                log.error("The write lease of %s was taken over: this process stalled past its expiry", lease.name)
                return
            except Exception as exc:  # noqa: BLE001 - the server may be back at the next beat; the write reports its own failure
                log.warning("Could not renew the write lease of %s (%s)", lease.name, type(exc).__name__)

    def _release(self, lease: Any) -> None:
        """Delete the lease, by id as when taking one over; if it cannot be reached, it expires."""
        released = f"{lease.name}--released-{uuid.uuid4().hex}"
        try:
            lease.modify(name=released)
            self._client.delete_collection(released)
        except NotFoundError:
            pass  # taken over already
        except Exception as exc:  # noqa: BLE001 - unreachable now: the lease expires by itself
            log.warning(
                "Could not release the write lease of %s (%s); it expires in %.0f s", lease.name, type(exc).__name__, self.seconds
            )
