//! Customer summaries (RFM) from transaction logs.
