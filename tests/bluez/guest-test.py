#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""tbgwd against the real bluetoothd on virtual controllers (`make check-bluez`).

Runs in the guest as a systemd unit, once per boot. btvirt makes four LE
controllers that see each other: hci1 is tbgwd's (adapter=hci1), hci0 the
sensor it pairs with (peripheral.py sensor), hci2 a BTHome advertiser
nobody connects, hci3 a stranger that another client connects. A mosquitto
on 127.0.0.1 plays ThingsBoard; every assertion is on what reaches it, on
what the peripherals saw over the air, or on BlueZ's objects.

Every line of ours on stdout starts with "TBGW-BLUEZ " (the host picks those
off the console): a TAP line per scenario, "#" diagnostics, and at the end
TBGW-BLUEZ-EXIT with the exit status.
"""
import json
import os
import signal
import subprocess
import sys
import threading
import time
import traceback

import dbus

BLUEZ = "org.bluez"
TEMP = "00002a6e-0000-1000-8000-00805f9b34fb"
HUM = "00002a6f-0000-1000-8000-00805f9b34fb"
LEVEL = "12345678-1234-5678-1234-56789abcdef1"
MODE = "12345678-1234-5678-1234-56789abcdef2"
PORT = 1883
WAIT = 60   # seconds for anything that should happen; the VM is emulated
RUN = "/run/tbgw-bluez"

# Scenarios that fail because of known faults in tbgwd: reported as
# "not ok … # TODO reason" (expected failures) until the fix lands, e.g.
#   "g": "no Connected change reaches tbgwd after the restart (issue 19)",
# Those of issue 19 (a, b, f, f-adapter, g) were listed here until the fixes
# of the BLE source made them pass.
TODO = {}

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


# ---- the test
class Test:
    def __init__(self):
        self.results = []
        self.passed = {}
        self.tbgwd = None
        self.tbgwd_runs = 0
        self.setup_failed = None

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
        """Four controllers. Under load a controller's first HCI Reset can
        time out ("Opcode 0x0c03 failed: -110" in the kernel log); it stays
        down, so btvirt starts again until all four are up."""
        def reset_failures():
            return run("dmesg").stdout.count("Opcode 0x0c03 failed")

        for attempt in range(4):
            run("systemctl", "stop", "btvirt")
            run("systemctl", "reset-failed", "btvirt")
            failures = reset_failures()
            r = run("systemd-run", "--unit=btvirt", "/usr/bin/btvirt", "-L", "-l4")
            if r.returncode != 0:
                raise Failure("btvirt: " + r.stderr)
            try:
                poll(lambda: all(dbus.ObjectPath("/org/bluez/hci%d" % i) in bluez_objects() for i in range(4))
                     or reset_failures() > failures, "hci0..hci3 in bluetoothd", 30)
                if reset_failures() == failures:
                    return
                diag("attempt %d: a controller's HCI Reset timed out" % (attempt + 1))
            except Failure as e:
                diag("attempt %d: %s" % (attempt + 1, e))
        raise Failure("btvirt's four controllers never came up")

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
        self.addr = {i: str(prop("/org/bluez/hci%d" % i, "org.bluez.Adapter1", "Address")) for i in range(4)}
        diag("controllers: " + ", ".join("hci%d %s" % kv for kv in sorted(self.addr.items())))
        set_prop("/org/bluez/hci1", "org.bluez.Adapter1", "Powered", dbus.Boolean(True))
        self.mqtt = Stream("mqtt", ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(PORT), "-v", "-q", "1",
                                    "-t", "v1/#"], parse=mqtt_parse)
        peripheral = "/usr/local/lib/tbgw-bluez/peripheral.py"
        self.sensor = Stream("sensor", ["/usr/bin/python3", "-u", peripheral, "sensor", "hci0"], stdin=True)
        self.bthome = Stream("bthome", ["/usr/bin/python3", "-u", peripheral, "bthome", "hci2"], stdin=True)
        self.stranger = Stream("stranger", ["/usr/bin/python3", "-u", peripheral, "stranger", "hci3"], stdin=True)
        for p in (self.sensor, self.bthome, self.stranger):
            p.wait(lambda e: e == "registered", "registration with bluetoothd")
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
        self.start_tbgwd("[server]\nhost=127.0.0.1\nport=%d\n[storage]\npath=memory\n"
                         "[ble]\nadapter=hci1\nscan=active\nbthome=true\n" % PORT)
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

    def bthome_values(self, values, since):
        """Each value advertised anew by the BTHome peripheral must arrive."""
        for v in values:
            self.packet_id = getattr(self, "packet_id", 0) + 1
            self.bthome.send("advertise 4000%02x02%s" % (self.packet_id, le16(v * 100, True)))
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
        self.start_tbgwd("[server]\nhost=127.0.0.1\nport=%d\n[storage]\npath=memory\n"
                         "[ble]\nadapter=hci1\nscan=passive\nbthome=true\n"
                         "[ble:Valve]\naddress=%s\ntype=valve\nrpc.setLevel=%s u8\nattribute.mode=%s u8\n"
                         % (PORT, self.addr[0], LEVEL, MODE))
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
        self.bthome_values([23.59], self.mqtt.mark())
        if prop("/org/bluez/hci1", "org.bluez.Adapter1", "Discovering"):
            raise Failure("hci1 is discovering: the scan was active, not passive")

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
