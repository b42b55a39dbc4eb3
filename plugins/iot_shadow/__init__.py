"""Reads and updates an AWS IoT Device Shadow: device commands and status over MQTT."""

from plugins.iot_shadow.plugin import IotShadowPlugin

__all__ = ["IotShadowPlugin"]
