using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Omni.Channels;
using Omni.MercadoLivre;
using Omni.Tests.Infrastructure;

namespace Omni.Tests.MercadoLivre;

/// <summary>
/// The moment between Mercado Livre issuing new tokens and the app storing them: a cancelled invocation still stores
/// them; a crash there (an exception no code handles, as a killed process) is named precisely and not retried.
/// </summary>
public sealed class MercadoLivreTokenCrashTests(AzuriteFixture azurite, MercadoLivreFixture ml) : IClassFixture<MercadoLivreFixture>
{
    private FakeMercadoLivre Fake => ml.Fake;

    [Fact]
    public async Task AnInvocationCancelledRightAfterMercadoLivreIssuedNewTokensStillStoresThem()
    {
        using var cancel = new CancellationTokenSource();
        var fault = new TokenAnswerFault { AfterAnswer = cancel.Cancel };
        await using var app = ml.CreateApp(azurite, http: h => h.AddHttpMessageHandler(() => new TokenAnswerFaultHandler(fault)));
        var seller = Fake.AddSeller();
        var channel = await app.MercadoLivreChannelAsync(seller);

        var token = await app.Services.GetRequiredService<MercadoLivreTokens>().GetAsync(await ChannelAsync(app, channel), cancel.Token);

        Assert.True(cancel.IsCancellationRequested);
        Assert.NotNull(token.AccessToken);
        fault.AfterAnswer = null;
        Assert.Equal(seller.RefreshToken, Reveal(app, await ChannelAsync(app, channel), MercadoLivreTokens.RefreshTokenField));
        Assert.True((await app.TestChannelAsync(channel))["ok"]!.GetValue<bool>());
    }

    [Fact]
    public async Task ACrashBetweenMercadoLivresTokenAnswerAndItsStoreMakesTheNextInstanceSayTheSellerMustReconnectWithoutAskingAgain()
    {
        var settings = new Dictionary<string, string?>(MercadoLivreFixture.Settings()) { ["Omni:MercadoLivre:TokenLeaseTimeout"] = "00:00:01" };
        var fault = new TokenAnswerFault { AfterAnswer = () => throw new SimulatedCrashException() };
        var seller = Fake.AddSeller();
        TestMercadoLivreChannel channel;
        await using (var crashing = ml.CreateApp(azurite, settings, h => h.AddHttpMessageHandler(() => new TokenAnswerFaultHandler(fault))))
        {
            channel = await crashing.MercadoLivreChannelAsync(seller);
            await Assert.ThrowsAsync<SimulatedCrashException>(async () =>
                await crashing.Services.GetRequiredService<MercadoLivreTokens>().GetAsync(await ChannelAsync(crashing, channel)));
        }

        // Mercado Livre rotated the token; the app never stored the new one, and its attempt is still recorded.
        await using var next = ml.CreateApp(azurite, settings);
        var stored = await ChannelAsync(next, channel);
        Assert.NotEqual(seller.RefreshToken, Reveal(next, stored, MercadoLivreTokens.RefreshTokenField));
        Assert.False(string.IsNullOrEmpty(Reveal(next, stored, MercadoLivreRenewals.AttemptField)));

        var report = await next.TestChannelAsync(channel);
        var message = report["message"]!.GetValue<string>();
        Assert.False(report["ok"]!.GetValue<bool>());
        Assert.Contains("invalid_grant", message, StringComparison.Ordinal);
        Assert.Contains("was interrupted after it sent this refresh token to Mercado Livre", message, StringComparison.Ordinal);
        Assert.Contains("must reconnect", message, StringComparison.Ordinal);
        var health = await Arrange.ReadAsync(await next.Admin().GetAsync("/api/health"), HttpStatusCode.OK);
        Assert.Contains((System.Text.Json.Nodes.JsonArray)health["reconnect"]!, c => c!["channelId"]!.GetValue<string>() == channel.ChannelId);

        // The refused token is not sent again: the next test and sends say the same without calling Mercado Livre.
        var attempts = Fake.RefreshAttempts.Count;
        var again = await next.TestChannelAsync(channel);
        Assert.Equal(message, again["message"]!.GetValue<string>());
        Assert.Equal(attempts, Fake.RefreshAttempts.Count);
    }

    private static async Task<Channel> ChannelAsync(OmniApp app, TestMercadoLivreChannel channel) =>
        (await app.Services.GetRequiredService<IChannelStore>().GetAsync(channel.Tenant.CompanyId, channel.ChannelId))!;

    private static string? Reveal(OmniApp app, Channel channel, string field) => app.Services.GetRequiredService<IChannelStore>().RevealSecret(channel, field);
}

/// <summary>What happens to the app right after the fake answered <c>oauth/token</c> with new tokens; null: nothing.</summary>
public sealed class TokenAnswerFault
{
    public Action? AfterAnswer { get; set; }
}

/// <summary>Stands for the process dying: no code of the app handles it.</summary>
public sealed class SimulatedCrashException() : Exception("Simulated crash after Mercado Livre's token answer (test).");

/// <summary>Lets the token exchange reach the fake, then runs the fault before the app sees the answer.</summary>
public sealed class TokenAnswerFaultHandler(TokenAnswerFault fault) : DelegatingHandler
{
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var response = await base.SendAsync(request, cancellationToken);
        if (request.RequestUri!.AbsolutePath.EndsWith("/oauth/token", StringComparison.Ordinal) && response.IsSuccessStatusCode && fault.AfterAnswer is { } after)
        {
            after();
        }

        return response;
    }
}
