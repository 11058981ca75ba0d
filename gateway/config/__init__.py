"""The station file as pydantic models (the single source of truth; its schema is exported).

`station` holds the root model and loading with YAML line numbers; `devices` and `vision` the
driver and camera sections chosen by their `type`; `base` the strict model every section uses.
"""
