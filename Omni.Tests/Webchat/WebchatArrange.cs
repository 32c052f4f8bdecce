using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Omni.Tests.Infrastructure;

namespace Omni.Tests.Webchat;

/// <summary>A webchat channel made through the management API, as a site owner would, with what its create response showed once.</summary>
public sealed record TestWebchat(TestTenant Tenant, string ChannelId, string WebsiteToken, string IdentitySecret);

/// <summary>A visitor's session, as the widget keeps it.</summary>
public sealed record TestVisitor(string SessionToken, string ContactId, string Origin);

internal static class WebchatArrange
{
    public const string ShopOrigin = "https://shop.example.com";

    public static async Task<TestWebchat> WebchatAsync(this OmniApp app, TestTenant? tenant = null, bool requireIdentity = false, string origin = ShopOrigin, string welcomeText = "Olá! Como podemos ajudar?")
    {
        tenant ??= await app.TenantAsync();
        var created = await app.ChannelAsync(tenant, "webchat", new { allowedOrigins = new[] { origin }, welcomeText, requireIdentity });
        return new TestWebchat(tenant, created["id"]!.GetValue<string>(), created["websiteToken"]!.GetValue<string>(), created["identitySecret"]!.GetValue<string>());
    }

    /// <summary>A client whose requests carry <c>Origin</c>, as a page's fetch does.</summary>
    public static HttpClient Page(this OmniApp app, string origin = ShopOrigin, string? sessionToken = null)
    {
        var client = sessionToken is null ? app.Anonymous() : app.As(sessionToken);
        client.DefaultRequestHeaders.Add("Origin", origin);
        return client;
    }

    public static async Task<TestVisitor> VisitorAsync(this OmniApp app, TestWebchat site, object? body = null, string origin = ShopOrigin)
    {
        var created = await Arrange.ReadAsync(await app.Page(origin).PostAsJsonAsync($"/api/webchat/{site.WebsiteToken}/sessions", body ?? new { name = "Maria", email = "maria@example.com" }), HttpStatusCode.Created);
        return new TestVisitor(created["sessionToken"]!.GetValue<string>(), created["contactId"]!.GetValue<string>(), origin);
    }

    public static async Task<string> SayAsync(this OmniApp app, TestVisitor visitor, string text)
    {
        var accepted = await Arrange.ReadAsync(await app.Page(visitor.Origin, visitor.SessionToken).PostAsJsonAsync("/api/webchat/sessions/messages", new { text }), HttpStatusCode.Accepted);
        return accepted["conversationId"]!.GetValue<string>();
    }

    public static async Task<JsonArray> ThreadAsync(this OmniApp app, TestVisitor visitor, string? after = null) =>
        (await Arrange.ReadAsync(await app.Page(visitor.Origin, visitor.SessionToken).GetAsync("/api/webchat/sessions/messages" + (after is null ? "" : "?after=" + after)), HttpStatusCode.OK))["items"]!.AsArray();

    /// <summary>An agent's reply through the conversations API; returns its message id.</summary>
    public static async Task<string> ReplyAsync(this OmniApp app, TestTenant tenant, string conversationId, string text)
    {
        var accepted = await Arrange.ReadAsync(await app.As(tenant.ManagementKey).PostAsJsonAsync(
            $"/api/companies/{tenant.CompanyId}/conversations/{conversationId}/messages", new { text }), HttpStatusCode.Accepted);
        return accepted["messageId"]!.GetValue<string>();
    }

    public static string UserHash(string userId, string identitySecret) =>
        Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(identitySecret), Encoding.UTF8.GetBytes(userId)));
}
