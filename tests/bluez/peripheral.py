#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""A BLE peripheral served through BlueZ's own APIs, for `make check-bluez`.

Runs in the guest on one of btvirt's controllers: a GATT application
(GattManager1.RegisterApplication) and an advertisement
(LEAdvertisingManager1.RegisterAdvertisement), both registered again
whenever bluetoothd comes back. Commands arrive on stdin, one per line;
what the central does to us is printed on stdout, one event per line:

  commands                      events
  notify UUID HEX               read UUID / write UUID HEX
  advertise [HCI] DATA…         notify-start UUID / notify-stop UUID
  drop  (disconnect our links)  notified UUID / not-notifying UUID
                                registered [HCI] / advertised [HCI] / dropped ADDRESS / error TEXT

DATA of an advertisement: sd:UUID16=HEX (service data), md:COMPANY=HEX
(manufacturer data, the company id in hex), name:NAME (the local name; it
goes to the scan response), any number of each; it replaces the previous.

Roles: "sensor" (Environmental Sensing 0x2A6E/0x2A6F with read+notify, two
writable characteristics, and the default pairing agent that answers
both sides of a Just Works pairing), "stranger" (the same sensor service,
nobody pairs it), "adv" (no GATT; only what `advertise` gives). An "adv"
process serves every adapter named on its command line (hci2,hci4,…): one
Python for many sensors, so its commands and events name the adapter.
"""
import sys

import dbus
import dbus.exceptions
import dbus.service
from dbus.mainloop.glib import DBusGMainLoop
from gi.repository import GLib

BLUEZ = "org.bluez"
OM = "org.freedesktop.DBus.ObjectManager"
PROPS = "org.freedesktop.DBus.Properties"
SVC = "org.bluez.GattService1"
CHR = "org.bluez.GattCharacteristic1"
ADV = "org.bluez.LEAdvertisement1"

TEMP = "00002a6e-0000-1000-8000-00805f9b34fb"
HUM = "00002a6f-0000-1000-8000-00805f9b34fb"
ESS = "0000181a-0000-1000-8000-00805f9b34fb"
TEST_SVC = "12345678-1234-5678-1234-56789abcdef0"
LEVEL = "12345678-1234-5678-1234-56789abcdef1"
MODE = "12345678-1234-5678-1234-56789abcdef2"


def event(*words):
    print(" ".join(str(w) for w in words), flush=True)


class Failed(dbus.exceptions.DBusException):
    _dbus_error_name = "org.bluez.Error.Failed"


class Characteristic(dbus.service.Object):
    def __init__(self, bus, path, service, uuid, flags, value=b""):
        super().__init__(bus, path)
        self.path, self.service, self.uuid, self.flags = path, service, uuid, flags
        self.value = bytes(value)
        self.notifying = False

    def props(self):
        return {CHR: {"Service": dbus.ObjectPath(self.service), "UUID": self.uuid,
                      "Flags": dbus.Array(self.flags, signature="s")}}

    @dbus.service.method(CHR, in_signature="a{sv}", out_signature="ay")
    def ReadValue(self, options):
        event("read", self.uuid)
        return dbus.ByteArray(self.value)

    @dbus.service.method(CHR, in_signature="aya{sv}")
    def WriteValue(self, value, options):
        self.value = bytes(value)
        event("write", self.uuid, self.value.hex())

    @dbus.service.method(CHR)
    def StartNotify(self):
        self.notifying = True
        event("notify-start", self.uuid)

    @dbus.service.method(CHR)
    def StopNotify(self):
        self.notifying = False
        event("notify-stop", self.uuid)

    @dbus.service.signal(PROPS, signature="sa{sv}as")
    def PropertiesChanged(self, interface, changed, invalidated):
        pass

    def notify(self, value):
        self.value = bytes(value)
        if not self.notifying:
            event("not-notifying", self.uuid)
            return
        self.PropertiesChanged(CHR, {"Value": dbus.ByteArray(self.value)}, [])
        event("notified", self.uuid)


class Application(dbus.service.Object):
    """The ObjectManager root BlueZ reads the GATT database from."""

    def __init__(self, bus, path):
        super().__init__(bus, path)
        self.path = path
        self.services = {}   # path → (uuid, [Characteristic])

    def add_service(self, bus, index, uuid, chars):
        spath = "%s/service%d" % (self.path, index)
        objs = [Characteristic(bus, "%s/char%d" % (spath, i), spath, *c) for i, c in enumerate(chars)]
        self.services[spath] = (uuid, objs)
        return objs

    def characteristics(self):
        return [c for _, chars in self.services.values() for c in chars]

    @dbus.service.method(OM, out_signature="a{oa{sa{sv}}}")
    def GetManagedObjects(self):
        objects = {}
        for spath, (uuid, chars) in self.services.items():
            objects[dbus.ObjectPath(spath)] = {SVC: {"UUID": uuid, "Primary": True}}
            for c in chars:
                objects[dbus.ObjectPath(c.path)] = c.props()
        return objects


class Advertisement(dbus.service.Object):
    def __init__(self, bus, path, props):
        super().__init__(bus, path)
        self.props = props

    @dbus.service.method(PROPS, in_signature="s", out_signature="a{sv}")
    def GetAll(self, interface):
        return self.props

    @dbus.service.method(ADV)
    def Release(self):
        pass


class Agent(dbus.service.Object):
    """Says yes to everything: a Just Works pairing asks only for consent."""

    @dbus.service.method("org.bluez.Agent1")
    def Release(self):
        pass

    @dbus.service.method("org.bluez.Agent1", in_signature="os")
    def AuthorizeService(self, device, uuid):
        pass

    @dbus.service.method("org.bluez.Agent1", in_signature="o", out_signature="s")
    def RequestPinCode(self, device):
        return "0000"

    @dbus.service.method("org.bluez.Agent1", in_signature="o", out_signature="u")
    def RequestPasskey(self, device):
        return dbus.UInt32(0)

    @dbus.service.method("org.bluez.Agent1", in_signature="ouq")
    def DisplayPasskey(self, device, passkey, entered):
        pass

    @dbus.service.method("org.bluez.Agent1", in_signature="os")
    def DisplayPinCode(self, device, pincode):
        pass

    @dbus.service.method("org.bluez.Agent1", in_signature="ou")
    def RequestConfirmation(self, device, passkey):
        event("agent", "confirmation", device)

    @dbus.service.method("org.bluez.Agent1", in_signature="o")
    def RequestAuthorization(self, device):
        event("agent", "authorization", device)

    @dbus.service.method("org.bluez.Agent1")
    def Cancel(self):
        pass


class Peripheral:
    def __init__(self, role, hci):
        self.role, self.hci = role, hci
        self.adapter = "/org/bluez/" + hci
        self.bus = dbus.SystemBus()
        self.root = "/tbgw/%s/%s" % (role, hci)
        self.app = Application(self.bus, self.root)
        self.adv = None
        self.adv_serial = 0
        self.data = None   # what `advertise` asked for: (service data, manufacturer data, name)
        self.agent = None
        self.pending = 0
        if role in ("sensor", "stranger"):
            self.app.add_service(self.bus, 0, ESS, [
                (TEMP, ["read", "notify"], (2000).to_bytes(2, "little", signed=True)),
                (HUM, ["read", "notify"], (4500).to_bytes(2, "little"))])
        if role == "sensor":
            self.app.add_service(self.bus, 1, TEST_SVC, [
                (LEVEL, ["read", "write"], b"\x00"),
                (MODE, ["write"], b"\x00")])
            self.agent = Agent(self.bus, self.root + "/agent")
        self.bus.add_signal_receiver(self.owner_changed, "NameOwnerChanged", "org.freedesktop.DBus",
                                     arg0=BLUEZ)
        self.wait_for_adapter()

    def obj(self, path, iface):
        return dbus.Interface(self.bus.get_object(BLUEZ, path), iface)

    def error(self, what):
        return lambda e: event("error", what, e.get_dbus_name(), e.get_dbus_message())

    # ---- (re)registration, whenever bluetoothd is (back) on the bus
    def owner_changed(self, name, old, new):
        if new:
            self.adv = None
            self.pending = 0
            self.wait_for_adapter()

    def wait_for_adapter(self):
        """Polls until our adapter is there and powered (bluetoothd may be
        powering it itself and answer Busy meanwhile), then registers."""
        def poll():
            try:
                props = self.obj(self.adapter, PROPS)
                props.Set("org.bluez.Adapter1", "Alias", "tbgw-" + self.role)
                if not props.Get("org.bluez.Adapter1", "Powered"):
                    props.Set("org.bluez.Adapter1", "Powered", dbus.Boolean(True))
                    return True
            except dbus.exceptions.DBusException:
                return True
            self.register()
            return False
        if poll():
            GLib.timeout_add(300, poll)

    def register(self):
        try:
            if self.agent is not None:
                manager = self.obj("/org/bluez", "org.bluez.AgentManager1")
                manager.RegisterAgent(self.agent, "NoInputNoOutput")
                manager.RequestDefaultAgent(self.agent)
        except dbus.exceptions.DBusException as e:
            event("error", "agent", e.get_dbus_name(), e.get_dbus_message())
        if self.app.services:
            self.pending += 1
            self.obj(self.adapter, "org.bluez.GattManager1").RegisterApplication(
                self.app, {}, reply_handler=self.registered, error_handler=self.error("RegisterApplication"))
        self.advertise()
        if self.pending == 0:
            self.say("registered")

    def registered(self):
        self.pending -= 1
        if self.pending == 0:
            self.say("registered")

    def say(self, what):
        """An "adv" process speaks for several adapters: its events name theirs."""
        if self.role == "adv":
            event(what, self.hci)
        else:
            event(what)

    def advertise(self):
        """A new payload needs a new registration: bluetoothd reads it once."""
        manager = self.obj(self.adapter, "org.bluez.LEAdvertisingManager1")
        if self.adv is not None:
            old, self.adv = self.adv, None

            def unregistered(*args):
                old.remove_from_connection()
                self.advertise()
            manager.UnregisterAdvertisement(old, reply_handler=unregistered, error_handler=unregistered)
            return
        # "peripheral": connectable advertising goes out from the controller's
        # public address (a "broadcast" one from a new random address each
        # time), so that a tbgw config can name the sensor by its address
        props = {"Type": "peripheral", "Discoverable": dbus.Boolean(True)}
        if self.role == "adv" and self.data is None:
            return
        if self.role != "adv":
            props["ServiceUUIDs"] = dbus.Array(["181a"], signature="s")
            props["LocalName"] = "tbgw-" + self.role
        if self.data is not None:
            sd, md, name = self.data
            # a local name goes to the scan response, which a passive scan never asks for
            if sd:
                props["ServiceData"] = dbus.Dictionary({k: dbus.ByteArray(v) for k, v in sd.items()},
                                                       signature="sv")
            if md:
                props["ManufacturerData"] = dbus.Dictionary({dbus.UInt16(k): dbus.ByteArray(v)
                                                             for k, v in md.items()}, signature="qv")
            if name:
                props["LocalName"] = name
        self.adv_serial += 1
        self.adv = Advertisement(self.bus, "%s/adv%d" % (self.root, self.adv_serial), props)
        self.pending += 1
        manager.RegisterAdvertisement(self.adv, {}, reply_handler=self.advertised,
                                      error_handler=self.error("RegisterAdvertisement"))

    def advertised(self):
        self.say("advertised")
        self.registered()

    # ---- commands
    def command(self, words):
        if words[0] == "notify":
            for c in self.app.characteristics():
                if c.uuid == words[1]:
                    c.notify(bytes.fromhex(words[2]))
        elif words[0] == "advertise":
            sd, md, name = {}, {}, None
            for w in words[1:]:
                kind, _, value = w.partition(":")
                if kind == "name":
                    name = value
                    continue
                key, _, data = value.partition("=")
                if kind == "sd":
                    sd[key] = bytes.fromhex(data)
                elif kind == "md":
                    md[int(key, 16)] = bytes.fromhex(data)
                else:
                    raise ValueError("advertise: " + w)
            self.data = (sd, md, name)
            self.advertise()
        elif words[0] == "drop":
            self.drop()
        else:
            event("error", "unknown command", " ".join(words))

    def drop(self):
        """The link ends from our side: the central sees a remote disconnect."""
        for path, ifaces in self.obj("/", OM).GetManagedObjects().items():
            dev = ifaces.get("org.bluez.Device1")
            if dev and path.startswith(self.adapter + "/") and dev.get("Connected"):
                self.obj(path, "org.bluez.Device1").Disconnect()
                event("dropped", dev["Address"])


def read_command(fd, condition, peripherals):
    """One command a line; an "adv" process's name the adapter second."""
    line = sys.stdin.readline()
    if not line:
        loop.quit()
        return False
    words = line.split()
    try:
        if len(peripherals) > 1 or peripherals[0].role == "adv":
            target = next(p for p in peripherals if p.hci == words[1])
            del words[1]
        else:
            target = peripherals[0]
        target.command(words)
    except (dbus.exceptions.DBusException, IndexError, ValueError, StopIteration) as e:
        event("error", words[0] if words else "", str(e).replace("\n", " "))
    return True


if __name__ == "__main__":
    DBusGMainLoop(set_as_default=True)
    loop = GLib.MainLoop()
    peripherals = [Peripheral(sys.argv[1], hci) for hci in sys.argv[2].split(",")]
    GLib.io_add_watch(sys.stdin.fileno(), GLib.IO_IN | GLib.IO_HUP, read_command, peripherals)
    loop.run()
