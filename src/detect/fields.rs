//! Field access over records by contract path (`dns.query`, `http.user_agent`, `src_ip`,
//! `dns.answers.data`): one pass over the record extracts the values of the paths the rules
//! need (a path under a list yields one value per element).
