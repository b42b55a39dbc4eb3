"""The local runtime: serves the bundle on loopback as API Gateway and IoT Core would. Never deployed."""
