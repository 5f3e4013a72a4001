"""The alertbus benchmark (``make bench``, ``python -m bench --help``): a private stack of separate service
processes, a mixed alert load on the 201 and 202 paths with an exact drain check, and an optional side by
side run against a reference Alerta server (``bench/reference-alerta.sh``)."""
