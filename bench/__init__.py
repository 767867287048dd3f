"""Benchmarks: ``python -m bench [NAME-OR-PREFIX ...] [--list] [--quick] [--table FILE]``.

Every figure is printed as one JSON object per line on stdout (progress goes to stderr)::

    {"name": "modal.open", "unit": "ms", "p50": 4.1, "p99": 9.8, "value": null,
     "floor": 1.2, "n": 300}

``p50``/``p99`` for distributions (``value`` null), ``value`` for single figures (``p50``/``p99``
null), ``floor`` the baseline's median measured in the same run (null if there is none), ``n``
the number of samples. Units: ``ms``, ``s``, ``MB``, ``per_s``.

Adding a benchmark
------------------
Create a module ``bench/<group>.py`` and register functions with the decorator: every module of
``bench/`` whose name does not start with ``_`` is imported at start-up, so nothing else needs
to change (a module that fails to import is reported and the others still run)::

    from bench.context import Context
    from bench.figures import Distribution, Single, ms
    from bench.registry import benchmark
    from bench.sampling import interleaved

    @benchmark(name="approval.decide", unit="ms")
    def approval_decide(ctx: Context) -> Distribution:
        # The docstring's first line is what `--list` shows.
        world = ctx.shared(key="approval.world", factory=my_world)  # a context manager factory
        return interleaved(
            subject=lambda: ms(one_decision(world)),
            floor=lambda: ms(world.floor.update_latency(payload=...)),
            n=ctx.samples(full=300, quick=30),
            warmup=ctx.samples(full=20, quick=5),
        )

Return a :class:`~bench.figures.Distribution` (samples in the registered unit, plus the
baseline's samples if any) or a :class:`~bench.figures.Single` (``value``, ``n``, ``floor``);
the runner computes the percentiles and prints the line. ``@benchmark(..., on_demand=True)``
keeps a figure that takes many minutes out of full runs: it runs only when named in full.
Names are ``<group>.<figure>``; the runner runs benchmarks in name order, and ``ctx.shared``
set-up lives until the group ends.
Raise (e.g. :class:`~bench.simcalls.BenchError`) when the app does not do what it is driven to
do: the benchmark is reported as failed on stderr, prints no line, and the exit status is 1.

Helpers
-------
* :mod:`bench.appprocess`: ``app_process`` starts the real app (``build_application``, relay
  pacing off) in a child process on a temporary SQLite file, against a fresh
  ``slacksim.Simulator`` in this process, and stops it at once; it yields the simulator and a
  ``Store`` on the app's database for seeding and checks. Prefer it for latency figures: the
  app then shares neither GIL nor garbage collector with the simulator and the driver.
* :mod:`bench.inprocess`: ``running_app``, the same in this process, for benchmarks that need
  the app's objects (a manual clock, ``run_now`` of a sweep, its services).
* :mod:`bench.floor`: ``running_floor``, an empty Bolt app in a child process on its own
  simulator; ``open_latency``, ``update_latency`` and ``ack_latency`` answer the subject's
  envelopes minimally, which is the floor a figure is compared with.
* :mod:`bench.simcalls`: ``wait_for_call`` (when a Web API call arrived, by the simulator's
  clock), ``fresh_records`` (fail on broken Slack limits, forget old calls), ``BenchError``.
  Wait on the simulator rather than polling it: ``sim.wait_for`` wakes on each recorded call,
  ``sim.wait_for_call`` and ``sim.call_feed()`` hand out the calls themselves, so a driver
  costs no CPU while it waits (the figures share the machine's two cores with it).
* :mod:`bench.cpu`: CPU seconds of given processes (the app's instances), of a PostgreSQL
  database's backends and of this process, for figures steadier than wall time.
* :mod:`bench.sampling`: ``interleaved`` (warm-up, then subject and floor alternately),
  ``warm_up``, ``frozen_heap``; :mod:`bench.stats`: ``percentile``; :mod:`bench.sqlite`:
  ``temporary_database``; :mod:`bench.children`: child processes of your own.

The machine is a noisy 2-core box: take baseline and subject samples side by side, report
medians, and keep a whole group to a minute or two (``--quick`` to seconds). The runner logs
the load average after each benchmark on stderr, since other work shows in every tail figure.
"""
