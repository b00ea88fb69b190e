"""``marketsync bench``: the pipeline measured against the limits of the parts it is made of.

Every figure is measured beside its reference in the same run, because these machines are
shared and noisy: ratios matter more than absolute numbers.

    services.py          the run's own RabbitMQ vhost, PostgreSQL databases, SQLite files
    workload.py          bench accounts, settings for a run, storefront event bodies
    processes.py         the pipeline's workers in a child process (peak RSS reported back)
    broker_reference.py  plain pika: a windowed-confirm publisher and an acking consumer
    ingest.py            published with confirms until recorded and folded, one batcher
    coalescing.py        K changes over M SKUs: M feed messages, fewest createFeed calls
    freshness.py         publish to createFeed under Amazon's limits scaled down in time
    synthetic_log.py     a large log written through the event store (replay, memory)
    replay.py            rebuilding every view from the log, beside a raw read of it
    memory.py            the batcher's peak RSS with a million SKUs pending
    report.py            figures, the table, the JSON file, the machine
    runner.py            sizes (quick, full), order, clean-up
"""

GROUPS = ("broker", "ingest", "coalescing", "freshness", "replay", "memory")
