using System.Security.Cryptography;
using Microsoft.Extensions.DependencyInjection;
using Omni.Email;
using Omni.Tests.Infrastructure;

namespace Omni.Tests.Email;

/// <summary>
/// What one ingest holds in memory: raw MIME spooled (a temporary file past <see cref="MailSpool.InMemoryBytes"/>) and
/// parsed in place instead of copied into arrays, IMAP literals fetched straight into files, and the process-wide
/// <see cref="IngestBudget"/> over concurrent ingests, on real Dovecot and Azurite.
/// </summary>
public sealed class EmailIngestMemoryTests(AzuriteFixture azurite, MailServerFixture mail) : IAsyncLifetime
{
    private const int Budget = 100 * 1024;
    private MailServerProcess _servers = null!;
    private OmniApp _app = null!;

    public async ValueTask InitializeAsync()
    {
        _servers = await mail.GetAsync();
        _app = new OmniApp(azurite, EmailArrange.Settings(_servers, new Dictionary<string, string?> { ["Omni:Email:IngestBudgetBytes"] = Budget.ToString() }));
    }

    public ValueTask DisposeAsync() => _app.DisposeAsync();

    [Fact]
    public async Task WithASmallBudgetConcurrentIngestsStayInsideItAndEveryMailIsStoredEvenOneLargerThanTheBudget()
    {
        var tenant = await _app.TenantAsync();
        var mailbox = _servers.NewMailbox();
        var channelId = await _app.EmailChannelAsync(tenant, EmailArrange.ImapSettings(_servers, mailbox));
        // Other senders, so the poll stores them side by side (one sender's mail stays in order on one worker).
        for (var i = 0; i < 8; i++)
        {
            await _servers.SendAsync($"cliente{i}@{MailServerProcess.CustomerDomain}", mailbox.Address, $"Pedido {i}", $"Mensagem {i} " + new string('x', 40 * 1024));
        }

        await _servers.SendAsync($"grande@{MailServerProcess.CustomerDomain}", mailbox.Address, "Maior que o orçamento", "Anexo " + new string('y', 3 * Budget));
        await _servers.WaitForInboxAsync(mailbox, 9);
        var budget = _app.Services.GetRequiredService<IngestBudget>();

        var result = await _app.PollAsync(tenant, channelId);

        Assert.Equal(9, result.Ingested);
        Assert.Equal(9, (await _app.AllMessagesAsync(tenant, channelId)).Count);
        Assert.InRange(budget.Peak, 1, Budget);
        Assert.True(budget.Waits > 0, "No ingest had to wait: the budget held nothing back.");
        Assert.Equal(0, budget.InUse);
    }

    [Fact]
    public async Task AnImapMessageOfMoreThanAFewHundredKiBIsFetchedIntoATemporaryFileNotIntoMemory()
    {
        var mailbox = _servers.NewMailbox();
        await _servers.SendAsync("ana@" + MailServerProcess.CustomerDomain, mailbox.Address, "Grande", new string('z', 2 * MailSpool.InMemoryBytes));
        await _servers.SendAsync("ana@" + MailServerProcess.CustomerDomain, mailbox.Address, "Pequena", "Oi.");
        await _servers.WaitForInboxAsync(mailbox, 2);
        var connector = _app.Services.GetRequiredService<MailConnector>();
        using var client = connector.CreateImap();
        await connector.ConnectAsync(client, new MailServer("127.0.0.1", _servers.ImapsPort, Ssl: true), cancellationToken: TestContext.Current.CancellationToken);
        await connector.AuthenticateAsync(client, mailbox.Address, mailbox.Password, cancellationToken: TestContext.Current.CancellationToken);
        await client.Inbox.OpenAsync(MailKit.FolderAccess.ReadOnly, TestContext.Current.CancellationToken);
        // Postfix may deliver the two in either order: find each by its subject.
        var largeUid = Assert.Single(await client.Inbox.SearchAsync(MailKit.Search.SearchQuery.SubjectContains("Grande"), TestContext.Current.CancellationToken));
        var smallUid = Assert.Single(await client.Inbox.SearchAsync(MailKit.Search.SearchQuery.SubjectContains("Pequena"), TestContext.Current.CancellationToken));

        string path;
        await using (var large = await client.Inbox.GetStreamAsync(largeUid, TestContext.Current.CancellationToken))
        await using (var small = await client.Inbox.GetStreamAsync(smallUid, TestContext.Current.CancellationToken))
        {
            path = Assert.IsAssignableFrom<FileStream>(large).Name;
            Assert.True(File.Exists(path));
            Assert.True(large.Length > 2 * MailSpool.InMemoryBytes);
            Assert.IsType<MemoryStream>(small);
        }

        Assert.False(File.Exists(path), "The temporary file outlived its stream.");
        await MailConnector.DisconnectQuietlyAsync(client);
    }

    [Theory]
    [InlineData(10 * 1024, false)]
    [InlineData(3 * MailSpool.InMemoryBytes, true)]
    public async Task ASpoolHoldsSmallMailInMemoryAndLargerMailInATemporaryFileDeletedWithIt(int size, bool inFile)
    {
        var bytes = RandomNumberGenerator.GetBytes(size);
        string? path = null;
        await using (var spool = await MailSpool.ReadAsync(new ForwardOnlyStream(bytes), long.MaxValue, TestContext.Current.CancellationToken))
        {
            Assert.Equal((size, Convert.ToHexStringLower(SHA256.HashData(bytes))), (spool.Length, spool.Sha256));
            Assert.Equal(inFile, spool.Content is FileStream);
            path = (spool.Content as FileStream)?.Name;
            using var copy = new MemoryStream();
            await spool.Content.CopyToAsync(copy, TestContext.Current.CancellationToken);
            Assert.Equal(bytes, copy.ToArray());
        }

        Assert.True(path is null || !File.Exists(path), "The temporary file outlived its spool.");
    }

    [Fact]
    public async Task ASpoolReadsNoMoreThanItsLimitAndLeavesTheRestInTheSource()
    {
        var bytes = RandomNumberGenerator.GetBytes(MailSpool.InMemoryBytes * 2);
        var source = new ForwardOnlyStream(bytes);

        await using var spool = await MailSpool.ReadAsync(source, MailSpool.InMemoryBytes + 1, TestContext.Current.CancellationToken);

        Assert.Equal(MailSpool.InMemoryBytes + 1, spool.Length);
        using var rest = new MemoryStream();
        await source.CopyToAsync(rest, TestContext.Current.CancellationToken);
        Assert.Equal(bytes.Length - spool.Length, rest.Length);
    }

    /// <summary>A network stream's shape: no length, no seeking.</summary>
    private sealed class ForwardOnlyStream(byte[] bytes) : MemoryStream(bytes, writable: false)
    {
        public override bool CanSeek => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    }
}
