//! Data sets: the transaction simulator (CDNOW ships as files in the Python package).
