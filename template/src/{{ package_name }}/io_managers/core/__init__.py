"""The shared core of the IO managers: what every store means, written once.

It knows no backend by name; backends import it, never each other.

- ``errors``: the error hierarchy (each message names what to fix);
- ``config``: settings of managers and resources; an unknown argument names the nearest;
- ``metadata``: the storage vocabulary of asset metadata (:class:`~.metadata.StorageMetadata`);
- ``context``: what an output or input is called in messages, and its upstream output;
- ``naming``: asset key -> path parts or (schema, table); identifiers and path segments checked;
- ``partitions``: partition keys and time windows, hive segments, table-slice filters;
- ``ranges``: a run of several partitions split into one payload per partition (file stores);
- ``payloads``: payload kinds (dict, frame) a manager stores, dtypes a backend refuses;
- ``frames``: write modes on whole frames, drift and key checks, column selection, dtypes;
- ``codecs``: JSON for dicts (exact or refused), file extensions;
- ``output_metadata``: row count, column schema, URI or table name, preview;
- ``files``: atomic file writes and leftovers of killed writers;
- ``locks``: bounded waits for a file another process holds (on :mod:`...retry`).
"""
