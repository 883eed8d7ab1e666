/* SPDX-License-Identifier: Apache-2.0 */
/* tbgwctl-commands.h — the commands each tbgwctl-<area>.c defines. */
#pragma once

#include "tbgwctl-common.h"

/* tbgwctl-devices.c: the gateway and its devices */
extern const TbgCtlCommand tbg_ctl_cmd_status;
extern const TbgCtlCommand tbg_ctl_cmd_devices;
extern const TbgCtlCommand tbg_ctl_cmd_show;
extern const TbgCtlCommand tbg_ctl_cmd_create;
extern const TbgCtlCommand tbg_ctl_cmd_remove;
extern const TbgCtlCommand tbg_ctl_cmd_connect;
extern const TbgCtlCommand tbg_ctl_cmd_disconnect;
extern const TbgCtlCommand tbg_ctl_cmd_reconnect;
extern const TbgCtlCommand tbg_ctl_cmd_reload;

/* tbgwctl-data.c: values to and from ThingsBoard */
extern const TbgCtlCommand tbg_ctl_cmd_telemetry;
extern const TbgCtlCommand tbg_ctl_cmd_attributes;
extern const TbgCtlCommand tbg_ctl_cmd_request_attributes;
extern const TbgCtlCommand tbg_ctl_cmd_claim;

/* tbgwctl-monitor.c: watching and answering */
extern const TbgCtlCommand tbg_ctl_cmd_monitor;
extern const TbgCtlCommand tbg_ctl_cmd_rpc_handler;
