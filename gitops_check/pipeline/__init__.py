"""One check end to end, the orchestration only: ``check`` materializes the commit, finds the apps and runs
the steps; ``rendering`` renders many apps (App of Apps level by level, in parallel threads); ``comparison`` reads
each cluster once and diffs every app against it; ``shards`` splits one check over several CI jobs.

The stages themselves live in their own packages (``sources``, ``discover``, ``render``, ``cluster``, ``diff``).
"""
