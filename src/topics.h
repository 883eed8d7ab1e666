/* SPDX-License-Identifier: Apache-2.0 */
/* topics.h — the MQTT topics of the ThingsBoard Gateway API and of the
 * gateway's own device: the one place they are spelled. */
#pragma once

#define TBG_TOPIC_CONNECT                  "v1/gateway/connect"
#define TBG_TOPIC_DISCONNECT               "v1/gateway/disconnect"
#define TBG_TOPIC_TELEMETRY                "v1/gateway/telemetry"
#define TBG_TOPIC_ATTRIBUTES               "v1/gateway/attributes"
#define TBG_TOPIC_ATTRIBUTES_REQUEST       "v1/gateway/attributes/request"
#define TBG_TOPIC_ATTRIBUTES_RESPONSE      "v1/gateway/attributes/response"
#define TBG_TOPIC_RPC                      "v1/gateway/rpc"
#define TBG_TOPIC_CLAIM                    "v1/gateway/claim"
#define TBG_TOPIC_OWN_TELEMETRY            "v1/devices/me/telemetry"
#define TBG_TOPIC_OWN_ATTRIBUTES           "v1/devices/me/attributes"
#define TBG_TOPIC_OWN_RPC_REQUEST_PREFIX   "v1/devices/me/rpc/request/"
#define TBG_TOPIC_OWN_RPC_RESPONSE_PREFIX  "v1/devices/me/rpc/response/"
#define TBG_TOPIC_OWN_RPC_REQUEST_FILTER   TBG_TOPIC_OWN_RPC_REQUEST_PREFIX "+"
