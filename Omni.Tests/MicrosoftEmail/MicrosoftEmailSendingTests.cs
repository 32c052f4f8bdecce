using Microsoft.Extensions.DependencyInjection;
using MimeKit;
using Omni.Channels;
using Omni.Conversations;
using Omni.MicrosoftEmail;
using Omni.Tests.Infrastructure;

namespace Omni.Tests.MicrosoftEmail;

public sealed class MicrosoftEmailSendingTests(AzuriteFixture azurite, MicrosoftCloudFixture microsoft) : IClassFixture<MicrosoftCloudFixture>, IAsyncLifetime
{
    private readonly OmniApp _app = microsoft.CreateApp(azurite);

    private FakeMicrosoftCloud Cloud => microsoft.Cloud;

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public ValueTask DisposeAsync() => _app.DisposeAsync();

    [Fact]
    public async Task MimeSentThroughGraphKeepsItsMessageIdAndThreadingHeaders()
    {
        var channel = await _app.GraphChannelAsync(Cloud);
        var reply = MicrosoftEmailPollingTests.Mail(channel.Mailbox.Address, "Re: Pedido 4711", "Já enviamos.");
        reply.InReplyTo = "original@example.com";
        reply.References.Add("first@example.com");
        reply.References.Add("original@example.com");

        var result = await SendAsync(channel, reply);

        Assert.True(result.Outcome == SendOutcome.Sent, result.Error + string.Join("\n", Cloud.GraphRequests(channel.Mailbox).Select(r => $"{r.Method} {r.Path} {r.Status}")));
        var sent = Assert.Single(channel.Mailbox.Sent);
        Assert.Equal(reply.MessageId, sent.MessageId);
        Assert.Equal("original@example.com", sent.InReplyTo);
        Assert.Equal(["first@example.com", "original@example.com"], sent.References);
        Assert.Equal("Já enviamos.", sent.TextBody?.Trim());
        var request = Assert.Single(Cloud.GraphRequests(channel.Mailbox));
        Assert.Equal(("POST", $"/v1.0/users/{channel.Mailbox.Id}/sendMail", 202), (request.Method, request.Path, request.Status));
    }

    [Fact]
    public async Task ASendWithoutPermissionIsPermanentWithAReasonToShow()
    {
        var channel = await _app.GraphChannelAsync(Cloud, mailPermissionGranted: false);

        var result = await SendAsync(channel, MicrosoftEmailPollingTests.Mail(channel.Mailbox.Address, "Re: x"));

        Assert.Equal(SendOutcome.Permanent, result.Outcome);
        Assert.Contains("Mail.Send", result.Error);
        Assert.Empty(channel.Mailbox.Sent);
    }

    [Fact]
    public async Task ASendWithARevokedSecretIsPermanentAndNeverShowsTheSecret()
    {
        var channel = await _app.GraphChannelAsync(Cloud);
        channel.Directory.AddApp();
        var store = _app.Services.GetRequiredService<IChannelStore>();
        var stored = (await store.GetAsync(channel.Tenant.CompanyId, channel.ChannelId))!;
        await store.UpdateAsync(stored with { UpdatedAt = DateTimeOffset.UtcNow }, new Dictionary<string, string> { ["clientSecret"] = "revoked-secret-0000" });

        var result = await SendAsync(channel, MicrosoftEmailPollingTests.Mail(channel.Mailbox.Address, "Re: x"));

        Assert.Equal(SendOutcome.Permanent, result.Outcome);
        Assert.Contains("AADSTS7000215", result.Error);
        Assert.DoesNotContain("revoked-secret-0000", result.Error);
    }

    [Fact]
    public async Task ASendAfterTheTokenExpiredRenewsItAndGoesOut()
    {
        var channel = await _app.GraphChannelAsync(Cloud);
        await SendAsync(channel, MicrosoftEmailPollingTests.Mail(channel.Mailbox.Address, "Re: 1"));
        Cloud.ExpireIssuedTokens();

        var result = await SendAsync(channel, MicrosoftEmailPollingTests.Mail(channel.Mailbox.Address, "Re: 2"));

        Assert.True(result.Outcome == SendOutcome.Sent, result.Error + string.Join("\n", Cloud.GraphRequests(channel.Mailbox).Select(r => $"{r.Method} {r.Path} {r.Status}")));
        Assert.Equal(["Re: 1", "Re: 2"], channel.Mailbox.Sent.Select(m => m.Subject));
    }

    private async Task<SendResult> SendAsync(GraphMailboxChannel channel, MimeMessage mime)
    {
        var stored = await _app.Services.GetRequiredService<IChannelStore>().GetAsync(channel.Tenant.CompanyId, channel.ChannelId);
        return await _app.Services.GetRequiredService<GraphMailSender>().SendAsync(stored!, mime);
    }
}
