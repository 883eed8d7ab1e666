#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""tbgwd against the real bluetoothd on virtual controllers (`make check-bluez`).

Runs in the guest as a systemd unit, once per boot. btvirt makes twelve LE
controllers that see each other: hci1 is tbgwd's (adapter=hci1), hci0 the
sensor it pairs with (peripheral.py sensor), hci3 a stranger that another
client connects, and hci2, hci4–hci11 broadcasting sensors nobody connects
(one peripheral.py adv for all of them), each sending the advertisement
formats tbgwd decodes (broadcasting_sensors below). A mosquitto on 127.0.0.1 plays
ThingsBoard; every assertion is on what reaches it, on what the
peripherals saw over the air, or on BlueZ's objects.

Every line of ours on stdout starts with "TBGW-BLUEZ " (the host picks those
off the console): a TAP line per scenario, "#" diagnostics, and at the end
TBGW-BLUEZ-EXIT with the exit status.
"""
import json
import os
import signal
import struct
import subprocess
import sys
import threading
import time
import traceback

import dbus
from cryptography.hazmat.primitives.ciphers.aead import AESCCM

BLUEZ = "org.bluez"
TEMP = "00002a6e-0000-1000-8000-00805f9b34fb"
HUM = "00002a6f-0000-1000-8000-00805f9b34fb"
LEVEL = "12345678-1234-5678-1234-56789abcdef1"
MODE = "12345678-1234-5678-1234-56789abcdef2"
PORT = 1883
WAIT = 60   # seconds for anything that should happen; the VM is emulated
RUN = "/run/tbgw-bluez"
PHASE2_DECODERS = "bthome atc mibeacon ruuvi"
PHASE3_DECODERS = "govee switchbot qingping ibeacon eddystone"
CONTROLLERS = 12
ADVERTISERS = (2, 4, 5, 6, 7, 8, 9, 10, 11)   # the controllers of peripheral.py adv

# Scenarios that fail because of known faults in tbgwd: reported as
# "not ok … # TODO reason" (expected failures) until the fix lands, e.g.
#   "g": "no Connected change reaches tbgwd after the restart (issue 19)",
# Those of issue 19 (a, b, f, f-adapter, g) were listed here until the fixes
# of the BLE source made them pass, and all-passive until tbgwd spread its
# patterns over monitors of at most 7.
TODO = {
}

T0 = time.monotonic()


def say(line):
    print("TBGW-BLUEZ " + line, flush=True)


def diag(text):
    for line in str(text).splitlines() or [""]:
        say("# [%6.1f] %s" % (time.monotonic() - T0, line))


class Failure(Exception):
    pass


class Stream:
    """A child whose stdout lines are collected by a thread."""

    def __init__(self, name, argv, stdin=False, parse=None):
        self.name = name
        self.lines = []
        self.cond = threading.Condition()
        self.parse = parse or (lambda line: line)
        self.log = open("%s/%s.log" % (RUN, name), "w")
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=self.log, text=True, bufsize=1,
                                     stdin=subprocess.PIPE if stdin else subprocess.DEVNULL)
        threading.Thread(target=self.read, daemon=True).start()

    def read(self):
        for line in self.proc.stdout:
            item = self.parse(line.rstrip("\n"))
            with self.cond:
                self.lines.append((time.monotonic(), item))
                self.cond.notify_all()

    def mark(self):
        with self.cond:
            return len(self.lines)

    def wait(self, pred, what, since=0, timeout=WAIT):
        """The first item from index @since on that satisfies @pred."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for i in range(since, len(self.lines)):
                    if pred(self.lines[i][1]):
                        return i, self.lines[i][0], self.lines[i][1]
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None and since >= len(self.lines):
                    raise Failure("%s: no %s within %d s" % (self.name, what, timeout))
                self.cond.wait(left)

    def items(self, since=0):
        with self.cond:
            return [item for _, item in self.lines[since:]]

    def send(self, line):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def mqtt_parse(line):
    topic, _, payload = line.partition(" ")
    try:
        return topic, json.loads(payload)
    except ValueError:
        return topic, payload


def run(*argv):
    return subprocess.run(argv, capture_output=True, text=True, timeout=WAIT)


# ---- BlueZ from the test's side (another client of bluetoothd)
bus = None


def bluez_objects():
    return dbus.Interface(bus.get_object(BLUEZ, "/"), "org.freedesktop.DBus.ObjectManager").GetManagedObjects()


def prop(path, iface, name):
    return dbus.Interface(bus.get_object(BLUEZ, path), "org.freedesktop.DBus.Properties").Get(iface, name)


def set_prop(path, iface, name, value):
    dbus.Interface(bus.get_object(BLUEZ, path), "org.freedesktop.DBus.Properties").Set(iface, name, value)


def poll(pred, what, timeout=WAIT):
    deadline = time.monotonic() + timeout
    while True:
        try:
            v = pred()
        except dbus.exceptions.DBusException:
            v = None
        if v:
            return v
        if time.monotonic() > deadline:
            raise Failure("no %s within %d s" % (what, timeout))
        time.sleep(0.2)


def device_path(adapter, address):
    return "/org/bluez/%s/dev_%s" % (adapter, address.replace(":", "_"))


def names_of(address):
    """What tbgwd may call a device it names after BlueZ: alias or address."""
    names = {address, address.replace(":", "-")}
    try:
        names.add(str(prop(device_path("hci1", address), "org.bluez.Device1", "Alias")))
    except dbus.exceptions.DBusException:
        pass
    return names


def near(x, value):
    """A JSON number (not a string, not a bool) equal to @value as decoded."""
    return type(x) in (int, float) and abs(x - value) < 1e-6


def le16(v, signed=False):
    return int(round(v)).to_bytes(2, "little", signed=signed).hex()


# ---- the advertisement formats, built as each format's documentation says
# (doc/ble-advertisements.md names the sources). Every payload fits a legacy
# advertisement: 31 bytes, of which the flags take 3 and each AD structure 2
# more besides its UUID or company id.
BINDKEY = bytes.fromhex("5c0aa3d4b5f6e7d8c9b0a1b2c3d4e5f6")
WRONG_KEY = bytes.fromhex("00112233445566778899aabbccddeeff")


def mac_of(address):
    """The bytes of an address ("00:AA:01:04:00:04") as printed; the air carries them reversed."""
    return bytes.fromhex(address.replace(":", ""))


def s16(v, scale):
    return struct.pack("<h", int(round(v * scale)))


def u16(v, scale=1):
    return struct.pack("<H", int(round(v * scale)))


def ccm(key, nonce, plain, aad=None):
    """AES-CCM with a 4-byte MIC: ciphertext, MIC."""
    out = AESCCM(key, tag_length=4).encrypt(nonce, plain, aad)
    return out[:-4], out[-4:]


def bthome_plain(pid, t):
    """BTHome v2 (bthome.io/format): device info 0x40, packet id, temperature 0.01 °C."""
    return bytes([0x40, 0x00, pid, 0x02]) + s16(t, 100)


def bthome_encrypted(mac, key, counter, t, h):
    """BTHome v2 encrypted (bthome.io/encryption): nonce = address, UUID
    d2 fc, device info 0x41, counter (4, LE); no associated data."""
    objects = bytes([0x02]) + s16(t, 100) + bytes([0x03]) + u16(h, 100)
    ctr = struct.pack("<I", counter)
    ct, mic = ccm(key, mac + b"\xd2\xfc\x41" + ctr, objects)
    return bytes([0x41]) + ct + ctr + mic


def bthome_v1_objects(t, h, pid=None):
    """BTHome v1: each object (format << 5 | length), id, value."""
    head = bytes([0x02, 0x00, pid]) if pid is not None else b""
    return head + bytes([0x23, 0x02]) + s16(t, 100) + bytes([0x03, 0x03]) + u16(h, 100)


def bthome_v1_encrypted(mac, key, counter, t, h):
    """On 0x181E: nonce = address, UUID 1e 18, counter; associated data 0x11."""
    ctr = struct.pack("<I", counter)
    ct, mic = ccm(key, mac + b"\x1e\x18" + ctr, bthome_v1_objects(t, h), b"\x11")
    return ct + ctr + mic


def atc1441(mac, t, h, batt, mv, counter):
    """ATC1441 (atc1441/ATC_MiThermometer): MAC, temperature s16 BE 0.1 °C,
    humidity %, battery %, battery mV BE, frame counter."""
    return mac + struct.pack(">hBBHB", int(round(t * 10)), h, batt, mv, counter)


def pvvx(mac, t, h, mv, batt, counter):
    """pvvx custom (pvvx/ATC_MiThermometer): MAC LE, temperature 0.01 °C,
    humidity 0.01 %, battery mV, battery %, counter, flags; all LE."""
    return mac[::-1] + s16(t, 100) + u16(h, 100) + u16(mv) + bytes([batt, counter, 0x00])


def atc_nonce(mac, length, counter):
    """pvvx's encrypted formats: MAC LE, then the AD header (size, 0x16, 1a 18) and the counter."""
    return mac[::-1] + bytes([length + 3, 0x16, 0x1a, 0x18, counter])


def pvvx_encrypted(mac, key, counter, t, h, batt):
    ct, mic = ccm(key, atc_nonce(mac, 11, counter), s16(t, 100) + u16(h, 100) + bytes([batt, 0]), b"\x11")
    return bytes([counter]) + ct + mic


def atc1441_encrypted(mac, key, counter, t, h, batt):
    """Temperature in 0.5 °C steps from −40, humidity in 0.5 % steps."""
    plain = bytes([int(round((t + 40) * 2)), int(round(h * 2)), batt])
    ct, mic = ccm(key, atc_nonce(mac, 8, counter), plain, b"\x11")
    return bytes([counter]) + ct + mic


def mi_object(oid, value):
    return struct.pack("<HB", oid, len(value)) + value


def mibeacon(version, product, counter, objects, mac=None, capability=None):
    """Xiaomi MiBeacon, plain: frame control (objects; MAC, capability when
    given; version in bits 12–15), product id, frame counter, [MAC LE],
    [capability], objects."""
    fc = 0x0040 | version << 12 | (0x0010 if mac else 0) | (0x0020 if capability is not None else 0)
    out = struct.pack("<HHB", fc, product, counter)
    if mac:
        out += mac[::-1]
    if capability is not None:
        out += bytes([capability])
    return out + b"".join(mi_object(o, v) for o, v in objects)


def mibeacon_encrypted(mac, key, version, product, counter, ext, objects, with_mac):
    """MiBeacon v4/v5 encrypted: objects AES-CCM'd, then a 3-byte extended
    counter and the MIC; nonce = MAC LE, product id, frame counter,
    extended counter; associated data 0x11."""
    fc = 0x0848 | version << 12 | (0x0010 if with_mac else 0)
    head = struct.pack("<HHB", fc, product, counter)
    ext3 = struct.pack("<I", ext)[:3]
    ct, mic = ccm(key, mac[::-1] + head[2:] + ext3, b"".join(mi_object(o, v) for o, v in objects), b"\x11")
    return head + (mac[::-1] if with_mac else b"") + ct + ext3 + mic


# docs.ruuvi.com, data format 5: the "valid data" example
RUUVI = bytes.fromhex("0512fc5394c37c0004fffc040cac364200cdcbb8334c884f")


def qingping(mac, objects):
    """Qingping (0xFDCD): frame control, device type, MAC LE, objects id, length, value."""
    return bytes([0x88, 0x10]) + mac[::-1] + b"".join(bytes([o, len(v)]) + v for o, v in objects)


IBEACON = bytes.fromhex("0215e2c56db5dffb48d2b060d0f5a71096e000010002c5")   # measured power −59 dBm


class Sensor:
    """A broadcasting sensor on controller @hci, [ble:@name] in tbgwd's
    config unless @configured is false (then nothing of it may arrive)."""

    def __init__(self, name, hci, conf="", configured=True):
        self.name, self.hci, self.conf, self.configured = name, hci, conf, configured
        self.packets = []


class Packet:
    """One advertisement (@data: peripheral.py's advertise words) and the
    telemetry tbgwd must publish for it: exactly @values plus rssi."""

    def __init__(self, sensor, what, data, values):
        self.sensor, self.what, self.data = sensor, what, data
        self.values = dict(values, rssi=127)   # btvirt: RSSI "not available" (127)
        self.arrived = None                     # None: not sent; True; or why not
        sensor.packets.append(self)


def broadcasting_sensors(addr):
    """The broadcasting sensors of phases 2 and 3 and their packets, in the
    order each sensor sends them. A sensor sends one format family, or
    several with counters: with passive scanning BlueZ keeps every service
    data UUID and company id a device ever sent and reports them all, and a
    format without a counter counts as new again after 10 s. Phase 2 has
    the formats with counters, phase 3 those without: each phase's patterns
    (one per UUID or company id) fit in one advertisement monitor, as
    bluetoothd 5.66 takes no more than 7 in one; phase 4 has them all."""
    m = {i: mac_of(a) for i, a in addr.items()}
    balcony = Sensor("Balcony", 2)
    kitchen = Sensor("Kitchen", 4)
    bedroom = Sensor("Bedroom", 5, "bindkey=%s\n" % BINDKEY.hex())
    cellar = Sensor("Cellar", 6)
    office = Sensor("Office", 7)
    hall = Sensor("Hall", 8)
    keys = Sensor("Keys", 9, "absent-after-s=10\n")
    bike = Sensor("Bike", 10, "absent-after-s=10\n")
    attic = Sensor("Attic", 3, "bindkey=%s\n" % WRONG_KEY.hex())
    neighbour = Sensor("Kitchen", 4, configured=False)

    def sd(uuid, payload):
        return ["sd:%s=%s" % (uuid, payload.hex())]

    def md(company, payload):
        return ["md:%04x=%s" % (company, payload.hex())]

    # plain formats with counters on one sensor
    k = m[4]
    Packet(kitchen, "ATC1441 (0x181A, 13 bytes)", sd("181a", atc1441(k, 23.5, 45, 87, 2900, 0x10)),
           {"temperature": 23.5, "humidity": 45, "battery": 87, "voltage": 2.9})
    Packet(kitchen, "pvvx custom (0x181A, 15 bytes)", sd("181a", pvvx(k, 23.45, 45.67, 2900, 86, 0x11)),
           {"temperature": 23.45, "humidity": 45.67, "battery": 86, "voltage": 2.9})
    Packet(kitchen, "BTHome v1 (0x181C)", sd("181c", bthome_v1_objects(24.06, 50.55, pid=9)),
           {"temperature": 24.06, "humidity": 50.55})
    Packet(kitchen, "MiBeacon v3 0x100D, MAC (LYWSD03MMC)",
           sd("fe95", mibeacon(3, 0x055b, 0x27, [(0x100D, s16(10.9, 10) + u16(48.3, 10))], mac=k)),
           {"temperature": 10.9, "humidity": 48.3})
    Packet(kitchen, "MiBeacon v2 illuminance + moisture (Mi Flora)",
           sd("fe95", mibeacon(2, 0x0098, 0x28, [(0x1007, struct.pack("<I", 10000)[:3]), (0x1008, b"\x2a")],
                               mac=k)),
           {"illuminance": 10000, "moisture": 42})
    # more plain formats with counters on the BTHome advertiser of phase 1
    Packet(balcony, "Ruuvi data format 5 (0x0499)", md(0x0499, RUUVI),
           {"temperature": 24.3, "humidity": 53.49, "pressure": 1000.44, "acceleration_x": 0.004,
            "acceleration_y": -0.004, "acceleration_z": 1.036, "voltage": 2.977, "tx_power": 4,
            "movement_counter": 66})
    Packet(balcony, "MiBeacon v2 conductivity + temperature (Mi Flora)",
           sd("fe95", mibeacon(2, 0x0098, 0x40, [(0x1009, u16(350)), (0x1004, s16(21.5, 10))], mac=m[2])),
           {"conductivity": 350, "temperature": 21.5})
    Packet(balcony, "MiBeacon door open + motion, no MAC",
           sd("fe95", mibeacon(2, 0x098b, 0x41, [(0x1019, b"\x00"), (0x000F, struct.pack("<I", 120)[:3])])),
           {"door": True, "motion": True, "illuminance": 120})
    Packet(balcony, "MiBeacon v2 battery, capability byte (LYWSDCGQ)",
           sd("fe95", mibeacon(2, 0x01aa, 0x42, [(0x100A, b"\x5d")], mac=m[2], capability=0x0d)),
           {"battery": 93})
    # encrypted, with the bindkey of [ble:Bedroom]; counters rise across formats
    b = m[5]
    Packet(bedroom, "BTHome v2 encrypted (0xFCD2)", sd("fcd2", bthome_encrypted(b, BINDKEY, 0x100, 25.06, 50.55)),
           {"temperature": 25.06, "humidity": 50.55})
    Packet(bedroom, "pvvx encrypted (0x181A, 11 bytes)", sd("181a", pvvx_encrypted(b, BINDKEY, 0x21, 23.45, 45.67, 87)),
           {"temperature": 23.45, "humidity": 45.67, "battery": 87})
    Packet(bedroom, "ATC1441 encrypted (0x181A, 8 bytes)",
           sd("181a", atc1441_encrypted(b, BINDKEY, 0x22, 23.5, 45.5, 88)),
           {"temperature": 23.5, "humidity": 45.5, "battery": 88})
    Packet(bedroom, "MiBeacon v5 encrypted, MAC (LYWSD03MMC stock)",
           sd("fe95", mibeacon_encrypted(b, BINDKEY, 5, 0x055b, 0xc0, 0x21, [(0x1004, s16(23.3, 10))], True)),
           {"temperature": 23.3})
    Packet(bedroom, "MiBeacon v4 encrypted, no MAC, 0x4C01/0x4C02 (MJWSD05MMC)",
           sd("fe95", mibeacon_encrypted(b, BINDKEY, 4, 0x3228, 0xc1, 0x21,
                                         [(0x4C01, struct.pack("<f", 22.5)), (0x4C02, b"\x37")], False)),
           {"temperature": 22.5, "humidity": 55})
    Packet(bedroom, "BTHome v1 encrypted (0x181E)", sd("181e", bthome_v1_encrypted(b, BINDKEY, 0x101, 25.0, 50.55)),
           {"temperature": 25.0, "humidity": 50.55})
    # no counters: one family per sensor
    Packet(cellar, "Govee H5075 (0xEC88, 6 bytes)", md(0xEC88, bytes.fromhex("00036a4f6400")),
           {"temperature": 22.3, "humidity": 82.3, "battery": 100})
    Packet(cellar, "Govee H5074 (0xEC88, 7 bytes)", md(0xEC88, bytes.fromhex("006c094f166402")),
           {"temperature": 24.12, "humidity": 57.11, "battery": 100})
    Packet(office, "SwitchBot Meter (0x0D00)", sd("0d00", bytes.fromhex("5400e406972d")),
           {"temperature": 23.6, "humidity": 45, "battery": 100})
    Packet(office, "SwitchBot Meter Plus, below zero (0x0D00)", sd("0d00", bytes.fromhex("69003203053c")),
           {"temperature": -5.3, "humidity": 60, "battery": 50})
    Packet(hall, "Qingping temperature, humidity, battery, pressure (0xFDCD)",
           sd("fdcd", qingping(m[8], [(0x01, s16(23.3, 10) + u16(45.3, 10)), (0x02, b"\x5d"),
                                      (0x07, u16(1005.4, 10))])),
           {"temperature": 23.3, "humidity": 45.3, "battery": 93, "pressure": 1005.4})
    Packet(hall, "Qingping PM2.5/PM10 and CO2 (0xFDCD)",
           sd("fdcd", qingping(m[8], [(0x12, u16(12) + u16(20)), (0x13, u16(612))])),
           {"pm2_5": 12, "pm10": 20, "co2": 612})
    Packet(keys, "iBeacon (0x004C)", md(0x004C, IBEACON), {"present": True, "tx_power": -59})
    Packet(bike, "Eddystone UID (0xFEAA)", sd("feaa", bytes([0x00, 0xee]) + bytes(range(1, 17))),
           {"present": True, "tx_power": -18})
    Packet(bike, "Eddystone URL (0xFEAA)", sd("feaa", bytes([0x10, 0xf4, 0x03]) + b"example" + b"\x07"),
           {"present": True, "tx_power": -12})
    Packet(bike, "Eddystone TLM (0xFEAA)", sd("feaa", bytes.fromhex("20000bb817800000001000000020")),
           {"present": True, "voltage": 3.0, "temperature": 23.5})
    # the right key's packets to a sensor configured with another key: nothing
    for i, ctr in enumerate((0x200, 0x201)):
        Packet(attic, "BTHome v2 encrypted, a wrong bindkey configured (%d)" % (i + 1),
               ["sd:fcd2=%s" % bthome_encrypted(m[3], BINDKEY, ctr, 20.0 + i, 40.0).hex()], {})
    # a decodable sensor that phase 3 does not name: never reported
    Packet(neighbour, "Govee H5075 from a sensor not in the config", md(0xEC88, bytes.fromhex("00032d8f6400")), {})
    return [balcony, kitchen, bedroom, attic], [cellar, office, hall, keys, bike, neighbour]


def inkbird(t, h, batt):
    """Inkbird IBS-TH2 (local name "sps"): its "company id" is the
    temperature (s16 LE 0.01 °C), then humidity, probe, CRC (2), battery, 0."""
    return ["md:%04x=%s" % (struct.unpack("<H", s16(t, 100))[0],
                            (u16(h, 100) + bytes([0x00, 0x5a, 0xa5, batt, 0x00])).hex()), "name:sps"]


def typed_equal(got, want):
    """Exactly @want's keys; booleans as booleans, integers as integers,
    reals as reals (jansson writes 20.0 for a real, 20 for an integer)."""
    if not isinstance(got, dict) or set(got) != set(want):
        return False
    for k, w in want.items():
        g = got[k]
        if type(g) is not type(w):
            return False
        if isinstance(w, float) and abs(g - w) > 1e-9 or not isinstance(w, float) and g != w:
            return False
    return True


# ---- the test
class Test:
    def __init__(self):
        self.results = []
        self.passed = {}
        self.tbgwd = None
        self.tbgwd_runs = 0
        self.setup_failed = None
        self.sensors = []        # phase 2's broadcasting sensors
        self.sensors3 = []       # phase 3's
        self.sensor_names = set()

    def result(self, key, desc, fn, needs=()):
        failed = [k for k in needs if not self.passed.get(k)]
        if self.setup_failed or failed:
            ok, why = False, "not run: " + (self.setup_failed or "%s failed" % ", ".join(failed))
        else:
            diag("---- " + desc)
            try:
                fn()
                ok, why = True, None
            except Failure as e:
                ok, why = False, str(e)
            except Exception:   # noqa: BLE001 — a test bug must show, not stop the rest
                ok, why = False, traceback.format_exc()
        n = len(self.results) + 1
        # a scenario that could not run because a known fault stopped the
        # one it builds on is an expected failure too
        todo = TODO.get(key) or next(("not run: %s failed (%s)" % (k, TODO[k]) for k in failed if k in TODO),
                                     None)
        if ok:
            say("ok %d - %s" % (n, desc))
        else:
            diag(why)
            if todo:
                say("not ok %d - %s # TODO %s" % (n, desc, todo))
            else:
                say("not ok %d - %s" % (n, desc))
                self.tail_tbgwd()
        self.results.append(ok or bool(todo))
        self.passed[key] = ok

    def tail_tbgwd(self):
        path = "%s/tbgwd-%d.log" % (RUN, self.tbgwd_runs)
        if os.path.exists(path):
            with open(path) as f:
                lines = f.read().splitlines()[-25:]
            diag("tbgwd's log (last %d lines):\n%s" % (len(lines), "\n".join(lines)))

    # -- parts
    def start_btvirt(self):
        """CONTROLLERS controllers. Under load a controller's first HCI Reset
        can time out ("Opcode 0x0c03 failed: -110" in the kernel log); it
        stays down, so btvirt starts again until all are up."""
        def reset_failures():
            return run("dmesg").stdout.count("Opcode 0x0c03 failed")

        for attempt in range(4):
            run("systemctl", "stop", "btvirt")
            run("systemctl", "reset-failed", "btvirt")
            failures = reset_failures()
            r = run("systemd-run", "--unit=btvirt", "/usr/bin/btvirt", "-L", "-l%d" % CONTROLLERS)
            if r.returncode != 0:
                raise Failure("btvirt: " + r.stderr)
            try:
                poll(lambda: all(dbus.ObjectPath("/org/bluez/hci%d" % i) in bluez_objects()
                                 for i in range(CONTROLLERS))
                     or reset_failures() > failures, "hci0..hci%d in bluetoothd" % (CONTROLLERS - 1), 30)
                if reset_failures() == failures:
                    return
                diag("attempt %d: a controller's HCI Reset timed out" % (attempt + 1))
            except Failure as e:
                diag("attempt %d: %s" % (attempt + 1, e))
        raise Failure("btvirt's %d controllers never came up" % CONTROLLERS)

    def start_tbgwd(self, conf):
        self.tbgwd_runs += 1
        path = "%s/tbgw-%d.conf" % (RUN, self.tbgwd_runs)
        with open(path, "w") as f:
            f.write(conf)
        self.tbgwd_log = open("%s/tbgwd-%d.log" % (RUN, self.tbgwd_runs), "w")
        self.tbgwd_t = time.monotonic()
        self.tbgwd = subprocess.Popen(["/usr/local/sbin/tbgwd", "--verbose", "--config", path],
                                      stdout=self.tbgwd_log, stderr=subprocess.STDOUT)

    def stop_tbgwd(self):
        if self.tbgwd is not None and self.tbgwd.poll() is None:
            self.tbgwd.send_signal(signal.SIGTERM)
            try:
                self.tbgwd.wait(30)
            except subprocess.TimeoutExpired:
                self.tbgwd.kill()
                raise Failure("tbgwd did not exit within 30 s of SIGTERM")
        self.tbgwd = None

    def connects(self, since=0):
        return [p.get("device") for t, p in self.mqtt.items(since)
                if t == "v1/gateway/connect" and isinstance(p, dict)]

    def wait_topic(self, topic, pred, what, since=0, timeout=WAIT):
        return self.mqtt.wait(lambda m: m[0] == topic and isinstance(m[1], dict) and pred(m[1]), what,
                              since, timeout)

    def wait_value(self, device, key, value, since=0, timeout=WAIT):
        """Telemetry of @device carrying @key = @value, a JSON number."""
        def match(p):
            return any(isinstance(s, dict) and isinstance(s.get("values"), dict) and
                       near(s["values"].get(key), value)
                       for s in (p.get(device) if isinstance(p.get(device), list) else []))
        return self.wait_topic("v1/gateway/telemetry", match, "telemetry %s %s=%s" % (device, key, value),
                               since, timeout)

    def count_value(self, device, key, value, since=0):
        n = 0
        for t, p in self.mqtt.items(since):
            if t == "v1/gateway/telemetry" and isinstance(p, dict) and isinstance(p.get(device), list):
                n += sum(1 for s in p[device] if isinstance(s, dict) and isinstance(s.get("values"), dict)
                         and near(s["values"].get(key), value))
        return n

    def wait_armed(self, since):
        for uuid in (TEMP, HUM):
            self.sensor.wait(lambda e: e == "notify-start " + uuid, "notify-start " + uuid, since)

    def notify_until(self, uuid, data, key, value):
        """Notifies @data until its value arrives: after a reconnect the
        peripheral's bluetoothd keeps a bonded central's subscription and does
        not ask the application again, so only a value arriving shows that
        tbgwd has armed the notifications again."""
        m = self.mqtt.mark()
        deadline = time.monotonic() + WAIT
        while True:
            self.sensor.send("notify %s %s" % (uuid, data))
            try:
                return self.wait_value(self.name, key, value, m, 3)
            except Failure:
                if time.monotonic() > deadline:
                    raise Failure("no telemetry %s=%s within %d s of notifying it (events: %s)"
                                  % (key, value, WAIT, " / ".join(self.sensor.items()[-8:])))

    # -- setup
    def setup(self):
        os.makedirs(RUN, exist_ok=True)
        global bus
        bus = dbus.SystemBus()
        with open(RUN + "/mosquitto.conf", "w") as f:
            f.write("listener %d 127.0.0.1\nallow_anonymous true\npersistence false\nuser root\n" % PORT)
        self.broker = subprocess.Popen(["/usr/sbin/mosquitto", "-c", RUN + "/mosquitto.conf"],
                                       stdout=subprocess.DEVNULL, stderr=open(RUN + "/mosquitto.log", "w"))
        self.start_btvirt()
        self.addr = {i: str(prop("/org/bluez/hci%d" % i, "org.bluez.Adapter1", "Address"))
                     for i in range(CONTROLLERS)}
        diag("controllers: " + ", ".join("hci%d %s" % kv for kv in sorted(self.addr.items())))
        set_prop("/org/bluez/hci1", "org.bluez.Adapter1", "Powered", dbus.Boolean(True))
        self.mqtt = Stream("mqtt", ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(PORT), "-v", "-q", "1",
                                    "-t", "v1/#"], parse=mqtt_parse)
        peripheral = "/usr/local/lib/tbgw-bluez/peripheral.py"
        self.sensor = Stream("sensor", ["/usr/bin/python3", "-u", peripheral, "sensor", "hci0"], stdin=True)
        self.adv = Stream("adv", ["/usr/bin/python3", "-u", peripheral, "adv",
                                  ",".join("hci%d" % i for i in ADVERTISERS)], stdin=True)
        self.stranger = Stream("stranger", ["/usr/bin/python3", "-u", peripheral, "stranger", "hci3"], stdin=True)
        for p in (self.sensor, self.stranger):
            p.wait(lambda e: e == "registered", "registration with bluetoothd")
        for i in ADVERTISERS:
            self.adv.wait(lambda e: e == "registered hci%d" % i, "hci%d ready to advertise" % i)
        self.sensors, self.sensors3 = broadcasting_sensors(self.addr)
        self.pair()

    def pair(self):
        """Just Works, as a user would with bluetoothctl: scan, pair, trust;
        the sensor's process is the default agent of both sides."""
        hci1 = dbus.Interface(bus.get_object(BLUEZ, "/org/bluez/hci1"), "org.bluez.Adapter1")
        hci1.SetDiscoveryFilter({"Transport": "le"})
        hci1.StartDiscovery()
        dev = device_path("hci1", self.addr[0])
        poll(lambda: dbus.ObjectPath(dev) in bluez_objects(), "sensor found by hci1")
        hci1.StopDiscovery()
        t = time.monotonic()
        dbus.Interface(bus.get_object(BLUEZ, dev), "org.bluez.Device1").Pair(timeout=WAIT)
        set_prop(dev, "org.bluez.Device1", "Trusted", dbus.Boolean(True))
        poll(lambda: prop(dev, "org.bluez.Device1", "Paired"), "Paired")
        diag("paired and trusted %s in %.1f s" % (self.addr[0], time.monotonic() - t))
        dbus.Interface(bus.get_object(BLUEZ, dev), "org.bluez.Device1").Disconnect()
        poll(lambda: not prop(dev, "org.bluez.Device1", "Connected"), "disconnected after pairing")
        self.sensor_dev = dev

    # -- scenarios, phase 1: no device in the config, active scanning
    def a_autoconnect(self):
        self.sensor_names = names_of(self.addr[0])
        diag("the sensor may be called %s" % sorted(self.sensor_names))
        self.s_mark = self.sensor.mark()
        # no device of the sensor's in the config; the Inkbird (h) needs
        # the active scan for its name, which is in the scan response
        self.start_tbgwd("[server]\nhost=127.0.0.1\nport=%d\n[storage]\npath=memory\n"
                         "[ble]\nadapter=hci1\nscan=active\nbthome=true\ndecoders=inkbird\n"
                         "[ble:Freezer]\naddress=%s\n" % (PORT, self.addr[11]))
        try:
            _, t, (_, p) = self.wait_topic("v1/gateway/connect", lambda p: p.get("device") in self.sensor_names,
                                           "v1/gateway/connect of the sensor")
        except Failure as e:
            raise Failure("%s; BlueZ says the sensor is %sconnected" %
                          (e, "" if prop(self.sensor_dev, "org.bluez.Device1", "Connected") else "not "))
        self.name = p["device"]
        diag("announced as “%s” %.1f s after tbgwd started" % (self.name, t - self.tbgwd_t))
        if not prop(self.sensor_dev, "org.bluez.Device1", "Connected"):
            raise Failure("announced, but BlueZ says the sensor is not connected")

    def b_notifications(self):
        self.wait_armed(self.s_mark)
        for key, value in (("temperature", 20.0), ("humidity", 45.0)):
            self.wait_value(self.name, key, value)
        m = self.mqtt.mark()
        self.sensor.send("notify %s %s" % (TEMP, le16(2150, True)))
        self.wait_value(self.name, "temperature", 21.5, m)
        self.sensor.send("notify %s %s" % (HUM, le16(5025)))
        self.wait_value(self.name, "humidity", 50.25, m)
        # the notifications came after the initial reads on the same path:
        # any second copy of a read value has arrived by now
        for key, value in (("temperature", 20.0), ("humidity", 45.0)):
            n = self.count_value(self.name, key, value)
            if n != 1:
                raise Failure("the initial read %s=%s was published %d times, not once" % (key, value, n))

    def f_stranger(self):
        stranger = device_path("hci1", self.addr[3])
        s_mark = self.stranger.mark()
        poll(lambda: dbus.ObjectPath(stranger) in bluez_objects(), "stranger seen by hci1's scan")
        t = time.monotonic()
        dbus.Interface(bus.get_object(BLUEZ, stranger), "org.bluez.Device1").Connect(timeout=WAIT)
        diag("the stranger connected in %.1f s" % (time.monotonic() - t))
        poll(lambda: prop(stranger, "org.bluez.Device1", "ServicesResolved"), "stranger's services resolved")
        diag("its services resolved after %.1f s" % (time.monotonic() - t))
        # a barrier: tbgwd handles BlueZ's signals in order, so once a later
        # notification of the sensor is on the broker, it has seen the stranger's
        m = self.mqtt.mark()
        self.sensor.send("notify %s %s" % (TEMP, le16(2275, True)))
        self.wait_value(self.name, "temperature", 22.75, m)
        bad = [d for d in self.connects() if d in names_of(self.addr[3])]
        touched = [e for e in self.stranger.items(s_mark) if e.split()[0] in ("read", "write", "notify-start")]
        still = prop(stranger, "org.bluez.Device1", "Connected")
        dbus.Interface(bus.get_object(BLUEZ, stranger), "org.bluez.Device1").Disconnect()
        if bad:
            raise Failure("the stranger was announced: %s" % bad)
        if touched:
            raise Failure("tbgwd used the stranger's characteristics: %s" % touched)
        if not still:
            raise Failure("the stranger's link was dropped")

    def f_adapter(self):
        """Only hci1's devices are tbgwd's: hci0 has its own record of the
        central (paired by the pairing), which must be left alone."""
        central_names = set()
        for i in (0, 2, 3):
            try:
                central_names.add(str(prop(device_path("hci%d" % i, self.addr[1]), "org.bluez.Device1", "Alias")))
            except dbus.exceptions.DBusException:
                pass
        central_names |= {self.addr[1], self.addr[1].replace(":", "-")}
        bad = [d for d in self.connects() if d in central_names]
        if bad:
            raise Failure("devices of other adapters were announced: %s" % bad)

    def advertise(self, hci, data):
        """hci@hci advertises @data (peripheral.py's words) instead of what it
        did; a refusal by bluetoothd is a Failure."""
        p = self.stranger if hci == 3 else self.adv
        who = "" if hci == 3 else " hci%d" % hci
        m = p.mark()
        p.send("advertise%s %s" % (who, " ".join(data)))
        _, _, e = p.wait(lambda e: e == "advertised" + who or e.startswith("error"), "advertised" + who, m)
        if e.startswith("error"):
            raise Failure("hci%d: %s" % (hci, e))

    def samples(self, device, since=0):
        """Every telemetry sample's values of @device, in arrival order."""
        out = []
        for t, p in self.mqtt.items(since):
            if t == "v1/gateway/telemetry" and isinstance(p, dict) and isinstance(p.get(device), list):
                out += [s.get("values") for s in p[device] if isinstance(s, dict)]
        return out

    def wait_exact(self, device, values, since, timeout=WAIT):
        """Telemetry of @device whose values are exactly @values, typed."""
        return self.wait_topic("v1/gateway/telemetry",
                               lambda p: isinstance(p.get(device), list) and any(
                                   isinstance(s, dict) and typed_equal(s.get("values"), values) for s in p[device]),
                               "telemetry %s %s" % (device, json.dumps(values)), since, timeout)

    def bthome_values(self, values, since):
        """Each value advertised anew by the BTHome peripheral must arrive."""
        for v in values:
            self.packet_id = getattr(self, "packet_id", 0) + 1
            self.bthome_sent = getattr(self, "bthome_sent", []) + [v]
            self.advertise(2, ["sd:fcd2=%s" % bthome_plain(self.packet_id, v).hex()])
            _, _, (_, p) = self.wait_topic(
                "v1/gateway/telemetry",
                lambda p: any(d not in self.sensor_names and isinstance(s, list) and any(
                    isinstance(x, dict) and isinstance(x.get("values"), dict) and
                    near(x["values"].get("temperature"), v) for x in s) for d, s in p.items()),
                "BTHome temperature %s" % v, since)
            dev = [d for d, s in p.items() if d not in self.sensor_names][0]
            diag("BTHome temperature %s from “%s”" % (v, dev))
            if dev not in self.connects():
                raise Failure("telemetry of “%s” without its v1/gateway/connect" % dev)

    def e_active(self):
        self.bthome_values([21.37, 22.48], self.mqtt.mark())

    def h_inkbird(self):
        """Inkbird's format is told by its local name ("sps"), which only an
        active scan gets (the scan response). A new value is a new company
        id, so each try is a new advertisement; the first one that arrives
        must be exact, and so must everything else Freezer publishes."""
        m = self.mqtt.mark()
        sent = []
        deadline = time.monotonic() + WAIT
        for i in range(100):
            t = -3.5 - i / 4
            sent.append({"temperature": t, "humidity": 61.2, "battery": 77, "external_probe": False, "rssi": 127})
            self.advertise(11, inkbird(t, 61.2, 77))
            try:
                self.wait_exact("Freezer", sent[-1], m, 8)
                break
            except Failure:
                if time.monotonic() > deadline:
                    raise Failure("no Inkbird telemetry of Freezer within %d s (%d advertisements)" % (WAIT, i + 1))
        diag("Inkbird: telemetry after %d advertisement(s)" % len(sent))
        bad = [v for v in self.samples("Freezer", m) if not any(typed_equal(v, w) for w in sent)]
        if bad:
            raise Failure("Freezer published values it was not sent: %s" % bad)

    def c_drop(self):
        m, s_mark = self.mqtt.mark(), self.sensor.mark()
        self.sensor.send("drop")
        self.sensor.wait(lambda e: e.startswith("dropped"), "link dropped by the sensor")
        _, t_down, _ = self.wait_topic("v1/gateway/disconnect", lambda p: p.get("device") == self.name,
                                       "v1/gateway/disconnect", m)
        i, t_up, _ = self.wait_topic("v1/gateway/connect", lambda p: p.get("device") == self.name,
                                     "v1/gateway/connect after the drop", m)
        diag("disconnect → connect again: %.1f s" % (t_up - t_down))
        self.notify_until(TEMP, le16(2550, True), "temperature", 25.5)

    def g_restart(self):
        m, s_mark = self.mqtt.mark(), self.sensor.mark()
        r = run("systemctl", "restart", "bluetooth")
        if r.returncode != 0:
            raise Failure("systemctl restart bluetooth: " + r.stderr)
        # bluetoothd's AutoEnable powers hci1 again; the peripherals their adapters
        poll(lambda: prop("/org/bluez/hci1", "org.bluez.Adapter1", "Powered"), "hci1 powered again")
        self.sensor.wait(lambda e: e == "registered", "the sensor registered again", s_mark)
        try:
            self.wait_topic("v1/gateway/connect", lambda p: p.get("device") == self.name,
                            "v1/gateway/connect after the restart", m)
        except Failure as e:
            raise Failure("%s; BlueZ says the sensor is %sconnected" %
                          (e, "" if prop(self.sensor_dev, "org.bluez.Device1", "Connected") else "not "))
        self.notify_until(TEMP, le16(2650, True), "temperature", 26.5)

    # -- phase 2: the sensor in the config with an RPC and an attribute; passive scanning
    def phase2(self):
        self.stop_tbgwd()
        # a clean start: the link goes with the old tbgwd
        try:
            dbus.Interface(bus.get_object(BLUEZ, self.sensor_dev), "org.bluez.Device1").Disconnect()
        except dbus.exceptions.DBusException:
            pass
        poll(lambda: not prop(self.sensor_dev, "org.bluez.Device1", "Connected"), "sensor disconnected")
        self.s_mark, self.m_mark = self.sensor.mark(), self.mqtt.mark()
        self.name = "Valve"
        # the formats with counters, only from the sensors named here
        # (advertisers=configured): 6 monitor patterns
        self.start_tbgwd("[server]\nhost=127.0.0.1\nport=%d\n[storage]\npath=memory\n"
                         "[ble]\nadapter=hci1\nscan=passive\nbthome=true\ndecoders=%s\n"
                         "[ble:Valve]\naddress=%s\ntype=valve\nrpc.setLevel=%s u8\nattribute.mode=%s u8\n"
                         % (PORT, PHASE2_DECODERS, self.addr[0], LEVEL, MODE) + self.groups(self.sensors))
        self.wait_topic("v1/gateway/connect", lambda p: p.get("device") == "Valve", "v1/gateway/connect of Valve",
                        self.m_mark)
        # the writable characteristics are there once a notification arrives
        self.notify_until(TEMP, le16(1990, True), "temperature", 19.9)

    def d_rpc(self):
        m, s = self.mqtt.mark(), self.sensor.mark()
        run("mosquitto_pub", "-h", "127.0.0.1", "-p", str(PORT), "-q", "1", "-t", "v1/gateway/rpc", "-m",
            json.dumps({"device": "Valve", "data": {"id": 7, "method": "setLevel", "params": {"value": 42}}}))
        self.sensor.wait(lambda e: e.startswith("write " + LEVEL), "write of setLevel", s)
        _, _, (_, answer) = self.wait_topic("v1/gateway/rpc", lambda p: "id" in p and p.get("device") == "Valve",
                                            "RPC answer", m)
        diag("answer: %s" % json.dumps(answer))
        writes = [e for e in self.sensor.items(s) if e.startswith("write ")]
        if writes != ["write %s 2a" % LEVEL]:
            raise Failure("the sensor received %s, not one write of 2a" % writes)
        if answer.get("id") != 7 or not isinstance(answer.get("data"), dict) or "error" in answer["data"]:
            raise Failure("answer %s is not a success for id 7" % json.dumps(answer))

    def d_attribute(self):
        s = self.sensor.mark()
        run("mosquitto_pub", "-h", "127.0.0.1", "-p", str(PORT), "-q", "1", "-t", "v1/gateway/attributes", "-m",
            json.dumps({"device": "Valve", "data": {"mode": 3}}))
        self.sensor.wait(lambda e: e.startswith("write " + MODE), "write of the attribute mode", s)
        writes = [e for e in self.sensor.items(s) if e.startswith("write ")]
        if writes != ["write %s 03" % MODE]:
            raise Failure("the sensor received %s, not one write of 03" % writes)

    def e_passive(self):
        """hci2, now [ble:Balcony], through the decoders: exact values, its name."""
        m = self.mqtt.mark()
        self.bthome_values([23.59], m)
        self.wait_exact("Balcony", {"temperature": 23.59, "rssi": 127}, m)
        if prop("/org/bluez/hci1", "org.bluez.Adapter1", "Discovering"):
            raise Failure("hci1 is discovering: the scan was active, not passive")

    def groups(self, sensors):
        return "".join("[ble:%s]\naddress=%s\n%s" % (x.name, self.addr[x.hci], x.conf)
                       for x in sensors if x.configured)

    def adv_rounds(self, sensors):
        """Every sensor sends its packets one after the other, all sensors at
        once: round r is every sensor's r-th packet. Each packet must arrive
        as exactly its values; the results are told per packet below."""
        self.adv_mark = self.mqtt.mark()
        t0 = time.monotonic()
        for r in range(max(len(x.packets) for x in sensors)):
            pending = []
            for x in sensors:
                if r < len(x.packets):
                    pk = x.packets[r]
                    pk.mark = self.mqtt.mark()
                    try:
                        self.advertise(x.hci, pk.data)
                        pk.sent = time.monotonic()
                        pk.arrived = "not yet"
                        pending.append(pk)
                    except Failure as e:
                        pk.arrived = str(e)
            deadline = time.monotonic() + WAIT
            for pk in pending:
                if not pk.sensor.configured or pk.values == {"rssi": 127}:   # nothing may come
                    pk.arrived = True
                    continue
                try:
                    _, t, _ = self.wait_exact(pk.sensor.name, pk.values, pk.mark, max(deadline - time.monotonic(), 0))
                    pk.arrived = True
                    pk.latency = t - pk.sent
                except Failure as e:
                    pk.arrived = "%s; its samples: %s" % (e, self.samples(pk.sensor.name, pk.mark))
            diag("round %d: %s" % (r + 1, ", ".join("%s %s" % (pk.sensor.name, "%.1f s" % pk.latency
                                                               if hasattr(pk, "latency") else "-")
                                                    for pk in pending)))
        diag("all rounds: %.1f s" % (time.monotonic() - t0))

    def adv_packet(self, pk):
        def check():
            if pk.arrived is not True:
                raise Failure("%s: %s" % (pk.sensor.name, pk.arrived))
            # BlueZ reports unchanged data once; tbgwd drops what it saw
            n = sum(1 for v in self.samples(pk.sensor.name, self.adv_mark) if typed_equal(v, pk.values))
            if n != 1:
                raise Failure("%s: %s arrived %d times, not once" % (pk.sensor.name, json.dumps(pk.values), n))
        return check

    def adv_results(self, key, sensors):
        for x in sensors:
            for pk in x.packets:
                if x.configured and pk.values != {"rssi": 127}:
                    self.result(key + "-" + x.name, "adv) %s → %s: exactly its typed telemetry, once" % (pk.what, x.name),
                                self.adv_packet(pk), [key])

    def adv_nothing_else(self, sensors, since, allowed_extra):
        """Configured sensors publish only what they were sent (beacons also
        present=false), and nothing else is reported at all."""
        allowed = dict(allowed_extra)
        for x in sensors:
            if x.configured:
                allowed.setdefault(x.name, []).extend(pk.values for pk in x.packets if pk.values != {"rssi": 127})
        allowed = {k: v for k, v in allowed.items() if v}
        # the GATT sensor: Valve when configured, else under its alias (paired)
        gatt = self.sensor_names | {"Valve"}
        wrong = []
        for t, p in self.mqtt.items(since):
            if t not in ("v1/gateway/telemetry", "v1/gateway/connect") or not isinstance(p, dict):
                continue
            if t == "v1/gateway/connect":
                if p.get("device") not in allowed and p.get("device") not in gatt:
                    wrong.append("connect of %s" % p.get("device"))
                continue
            for device, samples in p.items():
                if device in gatt or not isinstance(samples, list):
                    continue
                for v in (s.get("values") for s in samples if isinstance(s, dict)):
                    if not any(typed_equal(v, w) for w in allowed.get(device, [])):
                        wrong.append("%s %s" % (device, json.dumps(v)))
        if wrong:
            raise Failure("published but not sent: %s" % "; ".join(wrong))

    def adv_phase2_else(self):
        """…and the wrong key is said once for two packets, publishing nothing.
        Balcony may also publish the BTHome values of phase 1: tbgwd decodes
        what BlueZ has cached for a device when it starts (without the RSSI,
        which BlueZ drops when discovery stops)."""
        cached = [{"temperature": v} for v in self.bthome_sent]
        replayed = [v for v in self.samples("Balcony", self.m_mark) if any(typed_equal(v, c) for c in cached)]
        if replayed:
            diag("Balcony: BlueZ's cached advertisement published when tbgwd started: %s" % replayed)
        self.adv_nothing_else(self.sensors, self.m_mark,
                              {"Balcony": [{"temperature": v, "rssi": 127} for v in self.bthome_sent] + cached})
        log = "%s/tbgwd-%d.log" % (RUN, self.tbgwd_runs)
        address = self.addr[3]

        def said():
            with open(log) as f:
                return [line for line in f if "cannot decrypt" in line and address in line]
        poll(said, "“cannot decrypt” for %s in tbgwd's log" % address)
        if len(said()) != 1:
            raise Failure("“cannot decrypt” logged %d times, not once: %s" % (len(said()), said()))

    # -- phase 3: the formats without counters, passive scanning
    def phase3(self):
        self.stop_tbgwd()
        self.m3_mark = self.mqtt.mark()
        self.start_tbgwd("[server]\nhost=127.0.0.1\nport=%d\n[storage]\npath=memory\n"
                         "[ble]\nadapter=hci1\nscan=passive\ndecoders=%s\n" % (PORT, PHASE3_DECODERS) +
                         self.groups(self.sensors3))
        self.tbgwd_log.flush()
        poll(lambda: "to scan passively" in open(self.tbgwd_log.name).read(), "tbgwd's passive scan")
        self.adv_rounds(self.sensors3)

    def adv_absent(self):
        """Beacons: present=false absent-after-s (10 s) after the last packet;
        btvirt repeats no advertisement, so none comes in between."""
        for name in ("Keys", "Bike"):
            last = [x for x in self.sensors3 if x.name == name][0].packets[-1]
            _, t, _ = self.wait_exact(name, {"present": False}, last.mark)
            diag("%s: present=false %.1f s after its last advertisement" % (name, t - last.sent))
            if t - last.sent < 9:
                raise Failure("%s: present=false after %.1f s, before absent-after-s=10" % (name, t - last.sent))

    def adv_phase3_else(self):
        """…and the Govee packet of hci4, not in this config, is not reported,
        though BlueZ has it: it did reach tbgwd's adapter."""
        neighbour = [x for x in self.sensors3 if not x.configured][0]
        company, data = neighbour.packets[-1].data[0][3:].split("=")
        dev = device_path("hci1", self.addr[neighbour.hci])

        def heard():
            md = prop(dev, "org.bluez.Device1", "ManufacturerData")
            return bytes(bytearray(md.get(int(company, 16), []))) == bytes.fromhex(data)
        poll(heard, "hci4's Govee packet in BlueZ's ManufacturerData on hci1")
        self.adv_nothing_else(self.sensors3, self.m3_mark, {"Keys": [{"present": False}],
                                                            "Bike": [{"present": False}]})
        if prop("/org/bluez/hci1", "org.bluez.Adapter1", "Discovering"):
            raise Failure("hci1 is discovering: the scan was active, not passive")

    # -- phase 4: every format at once with passive scanning
    def all_passive(self):
        """decoders=all with scan=passive: 13 patterns, and bluetoothd 5.66
        computes the size of its Add Adv Patterns Monitor command in 8 bits
        (src/adv_monitor.c): more than 7 patterns in one monitor overflow
        its buffer and bluetoothd dies, so tbgwd spreads them over monitors
        of at most 7. A BTHome packet must arrive with bluetoothd still the
        same process."""
        def pid():
            return run("systemctl", "show", "-p", "MainPID", "--value", "bluetooth").stdout.strip()
        self.stop_tbgwd()
        before = pid()
        m = self.mqtt.mark()
        self.start_tbgwd("[server]\nhost=127.0.0.1\nport=%d\n[storage]\npath=memory\n"
                         "[ble]\nadapter=hci1\nscan=passive\ndecoders=all\n" % PORT +
                         self.groups(self.sensors + self.sensors3))
        poll(lambda: "to scan passively" in open(self.tbgwd_log.name).read(), "tbgwd's passive scan")
        self.packet_id = getattr(self, "packet_id", 0) + 1
        try:
            self.advertise(2, ["sd:fcd2=%s" % bthome_plain(self.packet_id, 24.71).hex()])
        except Failure as e:
            diag(str(e))
        want = {"temperature": 24.71, "rssi": 127}
        deadline = time.monotonic() + WAIT
        while True:
            now = pid()
            if now != before:
                journal = run("journalctl", "-b", "-u", "bluetooth", "-o", "short-monotonic", "--no-pager")
                diag("\n".join(line for line in journal.stdout.splitlines()
                               if "Main process exited" in line or "dumped" in line or "signal" in line))
                raise Failure("bluetoothd died (pid %s, now %s) once tbgwd registered its monitor" % (before, now))
            if any(typed_equal(v, want) for v in self.samples("Balcony", m)):
                return
            if time.monotonic() > deadline:
                raise Failure("no Balcony %s within %d s" % (json.dumps(want), WAIT))
            time.sleep(0.5)

    def main(self):
        diag("test starts %.1f s after boot" % float(open("/proc/uptime").read().split()[0]))
        try:
            self.setup()
        except Exception as e:   # noqa: BLE001
            self.setup_failed = "setup failed"
            diag("setup failed: %s" % (e if isinstance(e, Failure) else traceback.format_exc()))
        self.result("a", "a) a paired and trusted device is connected by tbgwd on its own and announced",
                    self.a_autoconnect)
        self.result("b", "b) 0x2A6E/0x2A6F notifications arrive as typed telemetry; the initial read once",
                    self.b_notifications, ["a"])
        self.result("f", "f) a device another client connected, neither paired nor configured, is left alone",
                    self.f_stranger, ["a"])
        self.result("f-adapter", "f) adapter=hci1: other adapters' devices are left alone", self.f_adapter)
        self.result("e-active", "e) BTHome advertisements arrive as telemetry with active scanning",
                    self.e_active)
        self.result("h", "h) Inkbird IBS-TH2 (name in the scan response) → Freezer, active scanning: exact telemetry",
                    self.h_inkbird)
        self.result("c", "c) link dropped by the peripheral: disconnect, reconnect, notifications re-armed",
                    self.c_drop, ["a"])
        self.result("g", "g) systemctl restart bluetooth: tbgwd follows and reconnects", self.g_restart, ["a"])
        self.result("phase2", "tbgwd restarted with the device in the config connects it", self.phase2)
        self.result("d-rpc", "d) an RPC mapped to a characteristic writes the exact bytes; the answer has its id",
                    self.d_rpc, ["phase2"])
        self.result("d-attribute", "d) a shared attribute mapped to a characteristic writes the exact bytes",
                    self.d_attribute, ["phase2"])
        self.result("e-passive", "e) BTHome advertisements arrive with passive scanning (advertisement monitor)",
                    self.e_passive)
        self.result("adv", "adv) phase 2: the formats with counters from three sensors and a wrong key, passive "
                    "scanning", lambda: self.adv_rounds(self.sensors))
        self.adv_results("adv", self.sensors)
        self.result("adv-else", "adv) phase 2: nothing else published; a wrong bindkey logged once, no telemetry",
                    self.adv_phase2_else, ["adv"])
        self.result("phase3", "adv) phase 3: the formats without counters from five sensors, passive scanning",
                    self.phase3)
        self.adv_results("phase3", self.sensors3)
        self.result("adv-absent", "adv) beacons report present=false absent-after-s after their last advertisement",
                    self.adv_absent, ["phase3"])
        self.result("phase3-else", "adv) phase 3: nothing else published; a sensor not in the config is not reported",
                    self.adv_phase3_else, ["phase3"])
        self.result("all-passive", "adv) decoders=all with passive scanning: bluetoothd survives tbgwd's monitors",
                    self.all_passive)
        try:
            self.stop_tbgwd()
        except Failure as e:
            diag(str(e))
        say("1..%d" % len(self.results))
        diag("test ran for %.1f s" % (time.monotonic() - T0))
        return 0 if all(self.results) else 1


if __name__ == "__main__":
    rc = 1
    try:
        rc = Test().main()
    finally:
        print("TBGW-BLUEZ-EXIT %d" % rc, flush=True)
    sys.exit(rc)
