-- Prosody 0.12 for `npm run bench`: deploy/prosody/prosody.cfg.lua with two
-- changes, read through the same environment variables (test/harness/prosody.ts):
--   authentication = "internal_plain": the bench writes its thousands of accounts
--     as files (data/<host>/accounts/<user>.dat) and logs them in with PLAIN, so
--     neither side spends seconds per thousand users on PBKDF2;
--   privileges (XEP-0356) only for ponte's component (PONTE_IRC_DOMAIN): biboumi
--     does not use them, and with presence = "roster" Prosody would forward every
--     bench user's presence to it.
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
local listen_on = list(env("PROSODY_INTERFACES", "127.0.0.1"))
local log_file = env("PROSODY_LOG_FILE", nil)
local log_level = env("PROSODY_LOG_LEVEL", "info")
local pid_file = env("PROSODY_PIDFILE", nil)

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
	"privilege";
}
modules_disabled = { "s2s"; "s2s_auth_certs"; "offline" }

c2s_require_encryption = false
allow_unencrypted_plain_auth = true
authentication = "internal_plain"
storage = "internal"
allow_registration = true

local component_domains, seen = {}, {}
for _, name in ipairs({ irc_domain, matrix_domain, table.unpack(list(env("PONTE_EXTRA_COMPONENTS", ""))) }) do
	if not seen[name] then
		seen[name] = true
		component_domains[#component_domains + 1] = name
	end
end

VirtualHost (domain)
	privileged_entities = {
		[irc_domain] = { roster = "both"; message = "outgoing"; presence = "roster" };
	}

for _, name in ipairs(component_domains) do
	Component (name)
		component_secret = secret
		if name == irc_domain then modules_enabled = { "privilege" } end
end
