"""The folder on disk: shards, journal, manifest, writer lock. Knows nothing of proxies.

Layout of a folder::

    0.json 7.json …          shards: one ``<json key>\\t<json value>\\n`` line an entry
    journal.12.log           commits made since the shards were last rewritten
    tastypy.manifest.json    which shards (in order, each with its size, entry count
                             and CRC32) and which journal hold the data; its own CRC32
    tastypy.lock             flock'ed by the one writer; holds its pid

Why a commit is all or nothing, whenever the process dies:

* The manifest is the single point of truth. It only ever changes by ``os.replace``
  of a fully written and fsynced temp file, so it is always the old one or the new
  one. Files it names are never modified in place: a rewritten shard gets a fresh
  number, and old files are deleted only after the new manifest is durable.
* A small commit appends one batch to the journal with one ``os.write`` and
  ``fdatasync``. The batch ends with a record holding its line count and CRC32, so
  a batch cut short by a crash (or torn by the disk) has no record and is ignored:
  the folder reads as the commit before. A writer cuts such a tail off when it
  opens. A whole record that does not match is damage, not a crash.
* A large commit, or one that would make the journal outgrow the shards, compacts:
  new shard files for the changed slots and an empty journal are written and
  fsynced, the folder is fsynced, then the manifest is replaced. Before the replace
  the old manifest names only old, untouched files; after it, only new ones.
* On an exception inside ``commit`` the journal is truncated back or the new files
  are removed (and the old manifest put back if the replace already happened), the
  in-memory state is restored, and the exception propagates. After a failed fsync
  the journal is no longer trusted: the next commit compacts to a fresh one.

Readers take no lock: they read the manifest, its shards (checked against it),
then the journal up to its last complete batch. A store holds each entry as its
value's JSON text (one regex splits a shard whose keys are plain strings);
values of a checksummed file are decoded when first asked for, those of a 0.x
folder (no checksums) while reading, which is how damage in them is found.
If a file has vanished (a compaction deleted it) and the manifest changed
meanwhile, they read again.

Folders of tastypy 0.x (shards ``0.json``, ``1.json``, … and no manifest) are read as
they are; a writer first gives them a manifest naming exactly those shards. A folder
with a journal but no manifest is not one of those: it is refused, untouched.

Every file is opened without following links (see ``durable.py``) and created 0600.
"""

from tastypy.store.folder import DELETE, Store
from tastypy.store.lock import writer_pid

__all__ = ["DELETE", "Store", "writer_pid"]
