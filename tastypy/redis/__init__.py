"""The Redis host: values, order, counters, claims and locks of a POD in Redis."""
