"""Where tables live and how they are written: the one Delta writer (`store`), its log reader, the declared schemas
as Spark types, the run ledger, the writer lease, releases, gold's layout, and the MERGE of changes."""
