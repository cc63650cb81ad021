"""Privacy that needs the lake: the privacy key, deletion requests and their keyed tombstones, and the blanking
of a forgotten subject's records in raw files. (The pure parts are transforms: pii, pseudonyms, forgotten.)"""
