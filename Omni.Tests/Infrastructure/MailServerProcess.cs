using System.Diagnostics;
using System.Text;

namespace Omni.Tests.Infrastructure;

/// <summary>
/// A real Dovecot (IMAP, POP3, LMTP, plain-with-STARTTLS and TLS listeners) and a real Postfix (smtpd on
/// STARTTLS, wrapped-TLS and one no-STARTTLS loopback ports, authenticating through Dovecot and delivering into it over LMTP), with their configuration,
/// maildirs and a self-signed certificate in a temporary folder. Installed by scripts/install-mail-servers.sh;
/// shared by the test fixture and the benchmarks. Any address in <see cref="Domain"/> or
/// <see cref="CustomerDomain"/> receives mail; <see cref="AddUser"/> gives one a password for IMAP/POP3/SMTP.
/// </summary>
public sealed class MailServerProcess : IAsyncDisposable
{
    public const string Domain = "omni.test";
    public const string CustomerDomain = "customer.test";

    /// <summary>Postfix refuses mail to this address for good (550) …</summary>
    public const string RejectedRecipient = "rejected@" + CustomerDomain;

    /// <summary>… and to this one for now (450).</summary>
    public const string BusyRecipient = "busy@" + CustomerDomain;

    private readonly string _dir;
    private readonly Process _postfix;
    private readonly object _usersLock = new();

    private readonly string _doveadm;
    private readonly string _postfixPath;

    private MailServerProcess(string dir, Process postfix, Ports ports, string doveadm, string postfixPath)
    {
        _dir = dir;
        _postfix = postfix;
        _doveadm = doveadm;
        _postfixPath = postfixPath;
        ImapPort = ports.Imap;
        ImapsPort = ports.Imaps;
        Pop3Port = ports.Pop3;
        Pop3sPort = ports.Pop3s;
        SmtpPort = ports.Smtp;
        SmtpsPort = ports.Smtps;
        SmtpNoStartTlsPort = ports.SmtpNoStartTls;
        LmtpPort = ports.Lmtp;
    }

    public int ImapPort { get; }

    public int ImapsPort { get; }

    public int Pop3Port { get; }

    public int Pop3sPort { get; }

    public int SmtpPort { get; }

    public int SmtpsPort { get; }

    /// <summary>A plain smtpd that offers no STARTTLS: the app must refuse to log in there.</summary>
    public int SmtpNoStartTlsPort { get; }

    public int LmtpPort { get; }

    /// <summary>The self-signed certificate every TLS listener presents (PEM), for the app's trusted-certificates option.</summary>
    public string CertificateFile => Path.Combine(_dir, "cert.pem");

    public string DovecotLog => Path.Combine(_dir, "dovecot.log");

    public string PostfixLog => Path.Combine(_dir, "postfix.log");

    private string DovecotConfig => Path.Combine(_dir, "dovecot.conf");

    private string PostfixDir => Path.Combine(_dir, "postfix");

    /// <summary>
    /// Lets <paramref name="address"/> log in with <paramref name="password"/>. The file is replaced by a rename (so
    /// Dovecot never reads half a line) and the login is checked with doveadm before this returns.
    /// </summary>
    public void AddUser(string address, string password)
    {
        lock (_usersLock)
        {
            var users = Path.Combine(_dir, "users");
            var temp = users + ".tmp";
            File.WriteAllText(temp, File.ReadAllText(users) + $"{address}:{{PLAIN}}{password}\n");
            File.Move(temp, users, overwrite: true);
        }

        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (true)
        {
            using var check = Process.Start(new ProcessStartInfo(_doveadm, ["-c", DovecotConfig, "auth", "test", address, password])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            }) ?? throw new InvalidOperationException("doveadm did not start.");
            check.StandardOutput.ReadToEnd();
            check.StandardError.ReadToEnd();
            check.WaitForExit();
            if (check.ExitCode == 0)
            {
                return;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new InvalidOperationException($"Dovecot does not accept the new user {address} after 10 s.");
            }

            Thread.Sleep(50);
        }
    }

    public static async Task<MailServerProcess> StartAsync(CancellationToken cancellationToken = default)
    {
        // Another process can still take one of the nine ports between choosing it and the server's bind; new ports
        // then, rather than failing every mail test of the run.
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await StartOnceAsync(cancellationToken);
            }
            catch (InvalidOperationException ex) when (attempt < 3 && ex.Message.Contains("Address already in use", StringComparison.Ordinal))
            {
            }
        }
    }

    private static async Task<MailServerProcess> StartOnceAsync(CancellationToken cancellationToken)
    {
        var dovecot = Require("dovecot", "dovecot-imapd (with dovecot-pop3d and dovecot-lmtpd)");
        var doveadm = Require("doveadm", "dovecot-core");
        var postfix = Require("postfix", "postfix");
        var openssl = Require("openssl", "openssl");
        foreach (var (path, package) in new[] { ("/usr/lib/dovecot/pop3", "dovecot-pop3d"), ("/usr/lib/dovecot/lmtp", "dovecot-lmtpd"), ("/usr/lib/dovecot/imap", "dovecot-imapd") })
        {
            if (!File.Exists(path))
            {
                throw new InvalidOperationException($"{path} is missing: install the Debian package {package} (scripts/install-mail-servers.sh).");
            }
        }

        var dir = Directory.CreateTempSubdirectory("omni-mail-").FullName;
        // mktemp folders are 0700; Postfix and Dovecot drop to their own users and must traverse every parent.
        await RunAsync("chmod", ["755", dir], cancellationToken);
        var ports = new Ports(Repository.FreeTcpPort(), Repository.FreeTcpPort(), Repository.FreeTcpPort(), Repository.FreeTcpPort(),
            Repository.FreeTcpPort(), Repository.FreeTcpPort(), Repository.FreeTcpPort(), Repository.FreeTcpPort(), Repository.FreeTcpPort());

        await RunAsync(openssl, ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", Path.Combine(dir, "key.pem"), "-out", Path.Combine(dir, "cert.pem"),
            "-days", "2", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"], cancellationToken);
        await RunAsync("chmod", ["644", Path.Combine(dir, "key.pem")], cancellationToken);
        File.WriteAllText(Path.Combine(dir, "users"), "");
        Directory.CreateDirectory(Path.Combine(dir, "run"));
        Directory.CreateDirectory(Path.Combine(dir, "state"));
        var mail = Directory.CreateDirectory(Path.Combine(dir, "mail")).FullName;
        await RunAsync("chown", ["mail:mail", mail], cancellationToken);
        File.WriteAllText(Path.Combine(dir, "dovecot.conf"), DovecotConf(dir, ports));
        await RunAsync(dovecot, ["-c", Path.Combine(dir, "dovecot.conf")], cancellationToken);

        var pf = Directory.CreateDirectory(Path.Combine(dir, "postfix")).FullName;
        Directory.CreateDirectory(Path.Combine(pf, "queue"));
        var data = Directory.CreateDirectory(Path.Combine(pf, "data")).FullName;
        await RunAsync("chown", ["postfix", data], cancellationToken);
        File.WriteAllText(Path.Combine(pf, "main.cf"), PostfixMain(dir, ports));
        File.WriteAllText(Path.Combine(pf, "master.cf"), PostfixMaster(ports));
        AllowAlternateConfigDirectory(pf);
        await RunAsync(postfix, ["-c", pf, "set-permissions"], cancellationToken);

        // No syslog here: start-fg with maillog_file=/dev/stdout is the one way Postfix's log is seen at all.
        var start = new ProcessStartInfo(postfix, ["-c", pf, "start-fg"]) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        var process = Process.Start(start) ?? throw new InvalidOperationException("Postfix did not start.");
        var log = new StreamWriter(Path.Combine(dir, "postfix.log")) { AutoFlush = true };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (log) log.WriteLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (log) log.WriteLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        var result = new MailServerProcess(dir, process, ports, doveadm, postfix);
        try
        {
            var timeout = TimeSpan.FromSeconds(30);
            await Task.WhenAll(
                Repository.WaitForPortAsync(ports.Imap, timeout, "Dovecot (IMAP)"),
                Repository.WaitForPortAsync(ports.Imaps, timeout, "Dovecot (IMAPS)"),
                Repository.WaitForPortAsync(ports.Pop3, timeout, "Dovecot (POP3)"),
                Repository.WaitForPortAsync(ports.Lmtp, timeout, "Dovecot (LMTP)"),
                Repository.WaitForPortAsync(ports.Smtp, timeout, "Postfix (smtpd)"),
                Repository.WaitForPortAsync(ports.Smtps, timeout, "Postfix (smtps)"),
                Repository.WaitForPortAsync(ports.SmtpNoStartTls, timeout, "Postfix (smtpd without STARTTLS)")).WaitAsync(cancellationToken);
            await result.WarmUpAsync(cancellationToken);
        }
        catch (Exception ex)
        {
            var logs = result.ReadLogs();
            await result.DisposeAsync();
            throw new InvalidOperationException(ex.Message + Environment.NewLine + logs, ex);
        }

        return result;
    }

    // Dovecot starts its auth and login processes on first use; one IMAP login and one SMTP AUTH make the tests'
    // first logins as quick as the rest.
    private async Task WarmUpAsync(CancellationToken cancellationToken)
    {
        var user = $"warmup@{Domain}";
        AddUser(user, "warmup");
        var deadline = DateTime.UtcNow.AddSeconds(30);
        foreach (var (port, greeting, login) in new[]
        {
            (ImapPort, "* OK", $"a LOGIN {user} warmup\r\n"),
            (SmtpPort, "220", $"EHLO warmup\r\nAUTH PLAIN {Convert.ToBase64String(Encoding.ASCII.GetBytes($"\0{user}\0warmup"))}\r\n"),
        })
        {
            while (true)
            {
                using var tcp = new System.Net.Sockets.TcpClient();
                await tcp.ConnectAsync(System.Net.IPAddress.Loopback, port, cancellationToken);
                using var stream = tcp.GetStream();
                using var reader = new StreamReader(stream, Encoding.ASCII);
                await using var writer = new StreamWriter(stream, Encoding.ASCII) { AutoFlush = true };
                string? line;
                do
                {
                    line = await reader.ReadLineAsync(cancellationToken);
                }
                while (line is not null && !line.StartsWith(greeting, StringComparison.Ordinal) || line?.Contains("Waiting", StringComparison.Ordinal) == true);
                await writer.WriteAsync(login);
                var ok = false;
                while ((line = await reader.ReadLineAsync(cancellationToken)) is not null)
                {
                    if (line.StartsWith("a OK", StringComparison.Ordinal) || line.StartsWith("235", StringComparison.Ordinal))
                    {
                        ok = true;
                        break;
                    }

                    if (line.StartsWith("a NO", StringComparison.Ordinal) || line.StartsWith("535", StringComparison.Ordinal) || line.StartsWith("454", StringComparison.Ordinal))
                    {
                        break;
                    }
                }

                if (ok)
                {
                    break;
                }

                if (DateTime.UtcNow > deadline)
                {
                    throw new InvalidOperationException($"Logging in on 127.0.0.1:{port} did not succeed within 30 s.");
                }

                await Task.Delay(200, cancellationToken);
            }
        }
    }

    /// <summary>Both servers' logs, for assertion messages.</summary>
    public string ReadLogs()
    {
        var sb = new StringBuilder();
        foreach (var file in new[] { PostfixLog, DovecotLog })
        {
            try
            {
                using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
                var text = new StreamReader(stream).ReadToEnd();
                sb.AppendLine($"--- {Path.GetFileName(file)} (last 3000 chars)").AppendLine(text.Length > 3000 ? text[^3000..] : text);
            }
            catch (IOException)
            {
            }
        }

        return sb.ToString();
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await RunAsync(_postfixPath, ["-c", PostfixDir, "stop"], CancellationToken.None, check: false);
        }
        catch (Exception ex) when (ex is InvalidOperationException or System.ComponentModel.Win32Exception)
        {
        }

        if (!_postfix.HasExited && !_postfix.WaitForExit(5000))
        {
            _postfix.Kill(entireProcessTree: true);
        }

        _postfix.Dispose();
        try
        {
            await RunAsync(_doveadm, ["-c", DovecotConfig, "stop"], CancellationToken.None, check: false);
        }
        catch (Exception ex) when (ex is InvalidOperationException or System.ComponentModel.Win32Exception)
        {
        }

        RemoveAlternateConfigDirectory(PostfixDir);
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
        }
    }

    private static string Require(string command, string package)
    {
        foreach (var dir in new[] { "/usr/sbin", "/usr/bin", "/sbin", "/bin" }.Concat((Environment.GetEnvironmentVariable("PATH") ?? "").Split(':')))
        {
            var path = Path.Combine(dir, command);
            if (dir.Length > 0 && File.Exists(path))
            {
                return path;
            }
        }

        throw new InvalidOperationException($"'{command}' was not found: install the Debian package {package} (scripts/install-mail-servers.sh does it, as root).");
    }

    private static async Task RunAsync(string file, string[] args, CancellationToken cancellationToken, bool check = true)
    {
        var start = new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"{file} did not start.");
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken);
        if (check && process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{file} {string.Join(' ', args)} exited with {process.ExitCode}: {await stderr}{await stdout}");
        }
    }

    // Postfix accepts "-c DIR" only for directories the default main.cf lists; entries of folders that are gone are
    // dropped so the line does not grow run after run.
    private static readonly object MainCfLock = new();
    private const string DefaultMainCf = "/etc/postfix/main.cf";

    private static void AllowAlternateConfigDirectory(string dir) => EditAlternateConfigDirectories(dirs => dirs.Add(dir));

    private static void RemoveAlternateConfigDirectory(string dir) => EditAlternateConfigDirectories(dirs => dirs.Remove(dir));

    private static void EditAlternateConfigDirectories(Action<List<string>> edit)
    {
        lock (MainCfLock)
        {
            var lines = File.Exists(DefaultMainCf) ? File.ReadAllLines(DefaultMainCf).ToList() : [];
            var index = lines.FindIndex(l => l.TrimStart().StartsWith("alternate_config_directories", StringComparison.Ordinal));
            var dirs = index >= 0
                ? lines[index][(lines[index].IndexOf('=', StringComparison.Ordinal) + 1)..].Split([' ', ','], StringSplitOptions.RemoveEmptyEntries).Where(Directory.Exists).ToList()
                : [];
            edit(dirs);
            var line = "alternate_config_directories = " + string.Join(' ', dirs.Distinct());
            if (index >= 0)
            {
                lines[index] = line;
            }
            else
            {
                lines.Add(line);
            }

            File.WriteAllLines(DefaultMainCf, lines);
        }
    }

    private static string DovecotConf(string dir, Ports p) => $$"""
        base_dir = {{dir}}/run
        state_dir = {{dir}}/state
        instance_name = omni-{{Path.GetFileName(dir)}}
        log_path = {{dir}}/dovecot.log
        protocols = imap pop3 lmtp
        listen = 127.0.0.1
        ssl = yes
        ssl_cert = <{{dir}}/cert.pem
        ssl_key = <{{dir}}/key.pem
        disable_plaintext_auth = no
        auth_mechanisms = plain login
        auth_failure_delay = 0
        # The auth penalty (growing delays after failed logins from one IP) would slow every test: all come from loopback.
        login_trusted_networks = 127.0.0.0/8
        mail_location = maildir:{{dir}}/mail/%d/%n
        first_valid_uid = 8
        mail_privileged_group =
        pop3_uidl_format = %08Xu%08Xv
        lmtp_save_to_detail_mailbox = no
        mail_max_userip_connections = 100
        passdb {
          driver = passwd-file
          args = scheme=PLAIN username_format=%u {{dir}}/users
        }
        userdb {
          driver = static
          # allow_all_users: LMTP takes mail for any address (customers too), not only those with a password.
          args = uid=8 gid=8 home={{dir}}/mail/%d/%n allow_all_users=yes
        }
        service imap-login {
          inet_listener imap {
            port = {{p.Imap}}
          }
          inet_listener imaps {
            port = {{p.Imaps}}
            ssl = yes
          }
        }
        service pop3-login {
          inet_listener pop3 {
            port = {{p.Pop3}}
          }
          inet_listener pop3s {
            port = {{p.Pop3s}}
            ssl = yes
          }
        }
        service lmtp {
          inet_listener lmtp {
            address = 127.0.0.1
            port = {{p.Lmtp}}
          }
        }
        service auth {
          inet_listener {
            address = 127.0.0.1
            port = {{p.Auth}}
          }
        }
        service anvil {
          unix_listener anvil-auth-penalty {
            mode = 0
          }
        }
        service stats {
          unix_listener stats-reader {
            mode = 0666
          }
          unix_listener stats-writer {
            mode = 0666
          }
        }
        protocol lmtp {
          postmaster_address = postmaster@{{Domain}}
        }

        """;

    private static string PostfixMain(string dir, Ports p) => $"""
        compatibility_level = 3.6
        queue_directory = {dir}/postfix/queue
        data_directory = {dir}/postfix/data
        command_directory = /usr/sbin
        daemon_directory = /usr/lib/postfix/sbin
        meta_directory = /etc/postfix
        shlib_directory = /usr/lib/postfix
        mail_owner = postfix
        myhostname = mail.{Domain}
        mydomain = {Domain}
        mydestination =
        inet_interfaces = 127.0.0.1
        inet_protocols = ipv4
        mynetworks = 127.0.0.0/8
        virtual_mailbox_domains = {Domain} {CustomerDomain}
        virtual_transport = lmtp:inet:127.0.0.1:{p.Lmtp}
        relayhost =
        maillog_file = /dev/stdout
        smtpd_tls_cert_file = {dir}/cert.pem
        smtpd_tls_key_file = {dir}/key.pem
        smtpd_tls_security_level = may
        smtpd_tls_auth_only = no
        smtpd_sasl_auth_enable = yes
        smtpd_sasl_type = dovecot
        smtpd_sasl_path = inet:127.0.0.1:{p.Auth}
        smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated, reject
        smtpd_recipient_restrictions = {RecipientRestrictions}
        smtputf8_enable = no
        biff = no
        message_size_limit = 104857600
        # A delivery deferred while Dovecot is busy (a loaded test machine) is retried within seconds, not minutes.
        queue_run_delay = 1s
        minimal_backoff_time = 1s
        maximal_backoff_time = 2s
        alias_maps =
        alias_database =
        local_recipient_maps =

        """;

    private static readonly string RecipientRestrictions =
        "check_recipient_access inline:{ { " + RejectedRecipient + " = 550 5.1.1 No such user here }, { " + BusyRecipient + " = 450 4.2.1 Mailbox busy, try later } }, permit";

    private static string PostfixMaster(Ports p) => $"""
        {p.Smtp} inet n - n - - smtpd
        {p.Smtps} inet n - n - - smtpd
          -o smtpd_tls_wrappermode=yes
        {p.SmtpNoStartTls} inet n - n - - smtpd
          -o smtpd_tls_security_level=none
        pickup    unix  n       -       n       60      1       pickup
        cleanup   unix  n       -       n       -       0       cleanup
        qmgr      unix  n       -       n       300     1       qmgr
        tlsmgr    unix  -       -       n       1000?   1       tlsmgr
        rewrite   unix  -       -       n       -       -       trivial-rewrite
        bounce    unix  -       -       n       -       0       bounce
        defer     unix  -       -       n       -       0       bounce
        trace     unix  -       -       n       -       0       bounce
        verify    unix  -       -       n       -       1       verify
        flush     unix  n       -       n       1000?   0       flush
        proxymap  unix  -       -       n       -       -       proxymap
        smtp      unix  -       -       n       -       -       smtp
        relay     unix  -       -       n       -       -       smtp
        showq     unix  n       -       n       -       -       showq
        error     unix  -       -       n       -       -       error
        retry     unix  -       -       n       -       -       error
        discard   unix  -       -       n       -       -       discard
        lmtp      unix  -       -       n       -       -       lmtp
        anvil     unix  -       -       n       -       1       anvil
        scache    unix  -       -       n       -       1       scache
        postlog   unix-dgram n  -       n       -       1       postlogd

        """;

    private sealed record Ports(int Imap, int Imaps, int Pop3, int Pop3s, int Smtp, int Smtps, int Lmtp, int Auth, int SmtpNoStartTls);
}
