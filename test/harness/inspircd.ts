// A throw-away InspIRCd 3 for end-to-end tests, optionally with Atheme 7.2
// services linked (NickServ accounts, SASL PLAIN). Loopback only, plain + TLS
// client ports, flood limits off, IRCv3 caps, WEBIRC enabled.
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { onFreePorts } from './ports.js';
import { removeOnExit, startProcess, tempDir, waitReady, type ServerProcess } from './process.js';
import { findBinary, makeSelfSignedCert, type IrcServer } from './irc-server.js';

const NAME = 'irc.localhost';
const SERVICES_NAME = 'services.localhost';

export interface InspircdOptions {
  /** Link Atheme services (NickServ, ChanServ, SaslServ); default false. */
  services?: boolean;
  /**
   * Also listen on a TLS client port (IrcServer.passwordPort) whose users must
   * send this server password (PASS); the other ports stay open to all.
   */
  serverPassword?: string;
  /**
   * Ask TLS clients for a certificate and tell services its fingerprint
   * (m_sslinfo), with Atheme's SASL EXTERNAL and NickServ CERT; default false.
   */
  clientCertificates?: boolean;
}

const isRoot = () => process.getuid?.() === 0;

function inspircdConfig(v: {
  dir: string;
  port: number;
  tlsPort: number;
  linkPort: number;
  certPath: string;
  keyPath: string;
  webircPassword: string;
  linkPassword: string;
  services: boolean;
  passwordPort: number;
  serverPassword: string | undefined;
  clientCertificates: boolean;
}): string {
  const services = v.services
    ? `
<module name="services_account"><module name="deaf"><module name="servprotect"><module name="svshold"><module name="cban">
<module name="sasl">
<sasl target="${SERVICES_NAME}">
<module name="spanningtree">
<bind address="127.0.0.1" port="${v.linkPort}" type="servers">
<link name="${SERVICES_NAME}" ipaddr="127.0.0.1" port="${v.linkPort}" allowmask="127.0.0.0/8" timeout="30"
      sendpass="${v.linkPassword}" recvpass="${v.linkPassword}">
<uline server="${SERVICES_NAME}" silent="yes">
`
    : '';
  return `<path configdir="${v.dir}" datadir="${v.dir}/data" logdir="${v.dir}/logs" moduledir="/usr/lib/inspircd/modules">
<pid file="${v.dir}/inspircd.pid">
<server name="${NAME}" description="ponte test ircd" network="TestNet">
<admin name="test" nick="test" email="test@localhost">
<log method="file" type="* -USERINPUT -USEROUTPUT" level="default" target="${v.dir}/logs/ircd.log">
<dns server="127.0.0.1" timeout="1">
<bind address="127.0.0.1" port="${v.port}" type="clients">
<bind address="127.0.0.1" port="${v.tlsPort}" type="clients" sslprofile="Clients">
${v.serverPassword ? `<bind address="127.0.0.1" port="${v.passwordPort}" type="clients" sslprofile="Clients">
<connect name="password" port="${v.passwordPort}" allow="*" password="${v.serverPassword}" hash="plaintext" timeout="60" pingfreq="300"
         hardsendq="10M" softsendq="1M" recvq="1M" threshold="1000000" commandrate="100000000" fakelag="no"
         localmax="10000" globalmax="10000" limit="100000" maxchans="1000" resolvehostnames="no" useident="no">
` : ''}<connect name="main" allow="*"${v.serverPassword ? ` port="${v.port},${v.tlsPort}"` : ''} timeout="60" pingfreq="300"
         hardsendq="10M" softsendq="1M" recvq="1M"
         threshold="1000000" commandrate="100000000" fakelag="no"
         localmax="10000" globalmax="10000" limit="100000" maxchans="1000"
         resolvehostnames="no" useident="no">
<performance clonesonconnect="no" netbuffersize="65534">
<class name="All" commands="*" privs="*" usermodes="*" chanmodes="*" snomasks="*">
<type name="Admin" classes="All">
<oper name="admin" password="adminpw" host="*@*" type="Admin">
<module name="cap"><module name="ircv3"><module name="ircv3_accounttag"><module name="ircv3_batch">
<module name="ircv3_capnotify"><module name="ircv3_chghost"><module name="ircv3_ctctags">
<module name="ircv3_echomessage"><module name="ircv3_invitenotify"><module name="ircv3_labeledresponse">
<module name="ircv3_msgid"><module name="ircv3_servertime"><module name="namesx"><module name="uhnames">
<module name="monitor"><module name="setname"><module name="chghost"><module name="starttls">
<module name="ssl_gnutls">
<sslprofile name="Clients" provider="gnutls" certfile="${v.certPath}" keyfile="${v.keyPath}" hash="sha256" requestclientcert="${v.clientCertificates ? 'yes' : 'no'}">${v.clientCertificates ? '\n<module name="sslinfo">' : ''}
<module name="cgiirc">
<cgihost type="webirc" password="${v.webircPassword}" hash="plaintext" mask="*@127.0.0.1">
<module name="chanhistory">
<chanhistory maxlines="100" notice="no" bots="yes">
${services}`;
}

function athemeConfig(v: { linkPort: number; linkPassword: string; clientCertificates: boolean }): string {
  const certificates = v.clientCertificates ? 'loadmodule "modules/saslserv/external";\nloadmodule "modules/nickserv/cert";\n' : '';
  return `loadmodule "modules/protocol/inspircd";
loadmodule "modules/backend/opensex";
loadmodule "modules/crypto/pbkdf2v2";
loadmodule "modules/nickserv/main";
loadmodule "modules/nickserv/register";
loadmodule "modules/nickserv/identify";
loadmodule "modules/nickserv/info";
loadmodule "modules/nickserv/help";
loadmodule "modules/nickserv/drop";
loadmodule "modules/nickserv/set_core";
loadmodule "modules/nickserv/set_password";
loadmodule "modules/chanserv/main";
loadmodule "modules/chanserv/register";
loadmodule "modules/chanserv/flags";
loadmodule "modules/chanserv/op";
loadmodule "modules/saslserv/main";
loadmodule "modules/saslserv/plain";
serverinfo {
  name = "${SERVICES_NAME}"; desc = "Atheme IRC Services"; numeric = "00A"; recontime = 2;
  netname = "TestNet"; hidehostsuffix = "users.testnet"; adminname = "test"; adminemail = "test@localhost";
  registeremail = "noreply@localhost"; loglevel = { error; info; admin; network; };
  maxlogins = 50; maxusers = 0; mdlimit = 30; emaillimit = 10; emailtime = 300; auth = none; casemapping = rfc1459;
};
uplink "${NAME}" { host = "127.0.0.1"; port = ${v.linkPort}; send_password = "${v.linkPassword}"; receive_password = "${v.linkPassword}"; };
nickserv { nick = "NickServ"; user = "NickServ"; host = "${SERVICES_NAME}"; real = "Nickname Services"; maxnicks = 5; expire = 0; };
chanserv { nick = "ChanServ"; user = "ChanServ"; host = "${SERVICES_NAME}"; real = "Channel Services"; maxchans = 100; expire = 0;
  templates { vop = "+AV"; hop = "+AHehitrv"; aop = "+AOehiortv"; sop = "+AOaefhiorstv"; founder = "+AFORaefhiorstv"; }; };
saslserv { nick = "SaslServ"; user = "SaslServ"; host = "${SERVICES_NAME}"; real = "SASL Authentication Agent"; };
general { flood_msgs = 0; flood_time = 10; ratelimit_uses = 1000; ratelimit_period = 1; commit_interval = 1;
  uplink_sendq_limit = 1048576; language = "en"; };
${certificates}`;
}

export async function startInspircd(opts: InspircdOptions = {}): Promise<IrcServer> {
  const services = opts.services ?? false;
  const dir = tempDir('inspircd');
  removeOnExit(dir);
  mkdirSync(join(dir, 'data'));
  mkdirSync(join(dir, 'logs'));
  const athemeDir = join(dir, 'atheme');
  mkdirSync(athemeDir);
  let port = 0;
  let tlsPort = 0;
  let linkPort = 0;
  let passwordPort = 0;
  const serverPassword = opts.serverPassword;
  const clientCertificates = opts.clientCertificates ?? false;
  const webircPassword = randomBytes(8).toString('hex');
  const linkPassword = randomBytes(8).toString('hex');
  const { certPath, keyPath } = await makeSelfSignedCert(dir);
  const configPath = join(dir, 'inspircd.conf');
  const athemeConfPath = join(athemeDir, 'atheme.conf');
  const writeConfig = () => {
    writeFileSync(
      configPath,
      inspircdConfig({ dir, port, tlsPort, linkPort, certPath, keyPath, webircPassword, linkPassword, services, passwordPort, serverPassword, clientCertificates }),
    );
    if (services) writeFileSync(athemeConfPath, athemeConfig({ linkPort, linkPassword, clientCertificates }));
  };

  let ircd: ServerProcess | null = null;
  let atheme: ServerProcess | null = null;
  let starts = 0;

  async function stop(): Promise<void> {
    const procs = [atheme, ircd].filter((p): p is ServerProcess => p !== null);
    atheme = null;
    ircd = null;
    // Both at once: Atheme writes its database on SIGTERM whether linked or not.
    // InspIRCd with ssl_gnutls ends SIGTERM in a SIGSEGV (exit 139) - expected.
    await Promise.all(procs.map((p) => p.stop(10_000)));
  }

  async function start(): Promise<void> {
    starts++;
    // `ulimit -c 0`: no core file from the SIGSEGV on exit; exec keeps the PID.
    const args = [`--config=${configPath}`, '--nofork', ...(isRoot() ? ['--runasroot'] : [])];
    const p = startProcess(`inspircd(${port})`, 'sh', ['-c', 'ulimit -c 0; exec "$0" "$@"', findBinary('inspircd'), ...args], {
      cwd: dir,
      logPath: join(dir, 'logs', `inspircd-${starts}.out`),
    });
    ircd = p;
    try {
      // The client port accepts TCP before modules are loaded: wait for the line.
      // A port it cannot bind is only warned about; it keeps running without it.
      await waitReady(p, [`InspIRCd is now running as '${NAME}'`], /Some of your listeners failed to bind/, 20_000);
      if (services) {
        rmSync(join(athemeDir, 'atheme.pid'), { force: true });
        const a = startProcess(
          `atheme(${port})`,
          findBinary('atheme-services'),
          ['-n', '-c', athemeConfPath, '-D', athemeDir, '-l', join(athemeDir, 'atheme.log'), '-p', join(athemeDir, 'atheme.pid')],
          { cwd: athemeDir, logPath: join(athemeDir, `atheme-${starts}.out`) },
        );
        atheme = a;
        await a.waitFor('finished synching with uplink', 20_000);
      }
    } catch (err) {
      await stop();
      throw err;
    }
  }

  await onFreePorts(4, async (ports) => {
    [port, tlsPort, linkPort, passwordPort] = ports as [number, number, number, number];
    writeConfig();
    await start();
  });

  return {
    kind: 'inspircd',
    name: NAME,
    host: '127.0.0.1',
    port,
    tlsPort,
    dir,
    certPath,
    webircPassword,
    services,
    ...(serverPassword ? { passwordPort } : {}),
    stop,
    async restart() {
      await stop();
      await start();
    },
  };
}
