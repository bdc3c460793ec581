"""Many machines: a POD or Tracker held by a Redis server (see ``RedisPOD``)."""
