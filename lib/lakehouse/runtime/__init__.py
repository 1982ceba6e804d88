"""The runtime every job uses: its command line (``cli``), the Spark session from the
profile (``session``, ``jars``), and what happens around its own work (``job``): the
configuration read once (exit 2 on an error), the secrets checked, the warehouse lock held
(exit 4 when busy), failures turned into exit codes.

Example (a job file)::

    from lakehouse.runtime import cli, job

    def main() -> int:
        args = cli.parser(__doc__).parse_args()
        return job.run("maintenance", args, lambda w: maintenance.run(w.spark, w.project, w.ctx))
"""
