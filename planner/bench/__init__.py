"""The load benchmark harness: SMTP, POP3 and IMAP load against any server.

Opt-in: ``import planner`` loads none of it. The pieces, each in its own module::

    workload.py    what to send: sizes, recipients, sessions, rate, bounds (pure data)
    transport.py   the byte-stream interface the clients speak over (asyncio or a socket)
    smtp.py        SMTP client session (RFC 5321, PIPELINING RFC 2920, STARTTLS, AUTH PLAIN)
    pop3.py        POP3 client session (RFC 1939)
    imap.py        IMAP client session (RFC 9051 subset: LOGIN, SELECT, FETCH, LOGOUT)
    metrics.py     latency histograms per phase, counters, merging across workers
    runner.py      closed and open loop, warm-up, worker processes -> BenchmarkResult
    capacity.py    step the offered rate up until the latency target or error budget breaks
    plan.py        one benchmark from start to end: BenchPlan and execute() (the embedded
                   server, seeding, run or search, counters, repeats, the 30-s minimum)
    result.py      BenchmarkResult and environment capture (pure: the planning core reads it)
    store.py       SQLite results store
    progress.py    progress snapshots, a callback API and a rich live bar
    embedded.py    the reference server (``mailplan serve``) as a target on loopback
    apply.py       measured capacity into a scenario file
    locust_import.py   Locust CSV stats -> BenchmarkResult
    locustfile.py  Locust users that reuse the workload and protocol code (own process)
"""

__all__: list[str] = []
