//! Application protocols: detection today; one folder per protocol parser as they arrive.
