-- Prosody 0.12 configuration for ponte (XMPP <-> IRC / Matrix gateway).
--
-- One file for docker-compose and for the test harness. Every value that differs
-- between the two comes from an environment variable; the defaults are the
-- docker-compose ones:
--
--   PROSODY_DOMAIN          XMPP domain (VirtualHost)            default "localhost"
--   PONTE_IRC_DOMAIN        ponte's IRC component                default "irc.localhost"
--   PONTE_MATRIX_DOMAIN     ponte's Matrix component             default "matrix.localhost"
--   PONTE_EXTRA_COMPONENTS  more component domains, comma separated (same secret
--                           and privileges)                      default none
--   PONTE_COMPONENT_SECRET  XEP-0114 secret of the components    default "changeme"
--   PROSODY_INTERFACES      listen addresses, comma separated    default "*"  (tests: 127.0.0.1)
--   PROSODY_C2S_PORT        client port                          default 5222
--   PROSODY_COMPONENT_PORT  component port (XEP-0114)            default 5347
--   PROSODY_DATA_PATH       data directory                       default "/var/lib/prosody"
--   PROSODY_PIDFILE         pid file                             default: none written
--   PROSODY_LOG_FILE        log file                             default: console (stdout)
--   PROSODY_LOG_LEVEL       minimum log level                    default "info"
--
-- Run in the foreground:  prosody -F --config /path/to/prosody.cfg.lua
--
-- This is a loopback / demo setup: no TLS, PLAIN authentication over plain TCP,
-- open in-band registration, no server-to-server. Do not expose it as is.
--
-- Environment variables are read with Prosody's ENV_<NAME> config lookup (tested
-- with Prosody 0.12.3; plain os.getenv also works in 0.12's config sandbox).
-- Careful: a `local` in this file shadows the option of the same name.

local function env(name, default)
	local value = _ENV["ENV_" .. name]
	if value == nil or value == "" then return default end
	return value
end

local function list(value)
	local items = {}
	for item in string.gmatch(value, "[^,%s]+") do items[#items + 1] = item end
	return items
end

local domain = env("PROSODY_DOMAIN", "localhost")
local irc_domain = env("PONTE_IRC_DOMAIN", "irc.localhost")
local matrix_domain = env("PONTE_MATRIX_DOMAIN", "matrix.localhost")
local secret = env("PONTE_COMPONENT_SECRET", "changeme")
local listen_on = list(env("PROSODY_INTERFACES", "*"))
local log_file = env("PROSODY_LOG_FILE", nil)
local log_level = env("PROSODY_LOG_LEVEL", "info")
local pid_file = env("PROSODY_PIDFILE", nil)

-- Containers and CI often run as root; without this mod_posix refuses to start
-- ("Refusing to run as root"). It changes nothing for a non-root user.
run_as_root = true

data_path = env("PROSODY_DATA_PATH", "/var/lib/prosody")
if pid_file then pidfile = pid_file end

if log_file then
	log = { { levels = { min = log_level }, to = "file", filename = log_file } }
else
	log = { { levels = { min = log_level }, to = "console" } }
end

interfaces = listen_on
c2s_ports = { math.tointeger(tonumber(env("PROSODY_C2S_PORT", "5222"))) }
component_interfaces = listen_on
component_ports = { math.tointeger(tonumber(env("PROSODY_COMPONENT_PORT", "5347"))) }
s2s_ports = { }

modules_enabled = {
	"roster"; "saslauth"; "disco"; "ping"; "register"; "version"; "time"; "uptime";
	"privilege"; -- XEP-0356, from prosody-modules
}
-- s2s is auto-loaded unless disabled; offline storage would replay stale
-- messages into later test sessions.
modules_disabled = { "s2s"; "s2s_auth_certs"; "offline" }

c2s_require_encryption = false
allow_unencrypted_plain_auth = true
authentication = "internal_hashed"
storage = "internal"
allow_registration = true

-- Component domains: IRC, Matrix, then any extra ones, without duplicates.
local component_domains, seen = {}, {}
for _, name in ipairs({ irc_domain, matrix_domain, table.unpack(list(env("PONTE_EXTRA_COMPONENTS", ""))) }) do
	if not seen[name] then
		seen[name] = true
		component_domains[#component_domains + 1] = name
	end
end

-- XEP-0356: the components may read/write rosters, send messages on behalf of
-- users and receive their presence.
local privileges = {}
for _, name in ipairs(component_domains) do
	privileges[name] = { roster = "both"; message = "outgoing"; presence = "roster" }
end

VirtualHost (domain)
	privileged_entities = privileges

for _, name in ipairs(component_domains) do
	Component (name)
		component_secret = secret
		modules_enabled = { "privilege" }
end
