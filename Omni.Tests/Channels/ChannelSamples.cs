namespace Omni.Tests.Channels;

/// <summary>Valid settings for every channel type, with their secret values, so tests can look for leaks.</summary>
internal static class ChannelSamples
{
    public static readonly Dictionary<string, Dictionary<string, object?>> Valid = new()
    {
        ["omni"] = new() { ["webhookUrl"] = "https://erp.example.com/hooks/omni" },
        ["email"] = new()
        {
            ["address"] = "suporte@acme.com.br",
            ["displayName"] = "Suporte Acme",
            ["password"] = "email-Pa55word-7c1e",
            ["incoming"] = new { protocol = "imap", host = "imap.acme.com.br", port = 993, ssl = true },
            ["outgoing"] = new { host = "smtp.acme.com.br", port = 465, ssl = true },
            ["signatureHtml"] = "<p style=\"text-align:center;color:#336699\"><b>Acme</b> <i>Suporte</i></p><script>alert(1)</script><img src=\"https://acme.com.br/logo.png\" onerror=\"alert(2)\">",
        },
        ["microsoft-email"] = new()
        {
            ["address"] = "atendimento@acme.com.br",
            ["mailboxId"] = "6f1c2f7e-8a7b-4d6c-9f0e-1a2b3c4d5e6f",
            ["tenantId"] = "0c7a3e55-2f4b-4b59-8a57-7b0f6b0a1e11",
            ["clientId"] = "e5b8d7c2-1234-4c1d-9e8f-abcdef012345",
            ["clientSecret"] = "graph-client-secret-9f8e",
        },
        ["whatsapp"] = new()
        {
            ["provider"] = "meta",
            ["number"] = "5511987654321",
            ["expirationMinutes"] = 60,
            ["returnToBot"] = false,
            ["hsm"] = true,
            ["hsmOpensConversation"] = false,
            ["phoneNumberId"] = "109876543210",
            ["accessToken"] = "EAAG-whatsapp-token-41d2",
            ["appSecret"] = "whatsapp-app-secret-77aa",
            ["verifyToken"] = "whatsapp-verify-token-31bc",
        },
        ["instagram"] = new()
        {
            ["accountEmail"] = "social@acme.com.br",
            ["pageId"] = "1234567890",
            ["instagramAccountId"] = "17841400000000000",
            ["accessToken"] = "IGQ-instagram-token-aa01",
            ["appSecret"] = "instagram-app-secret-bb02",
            ["verifyToken"] = "instagram-verify-token-cc03",
        },
        ["webchat"] = new() { ["allowedOrigins"] = new[] { "https://shop.acme.com.br", "http://localhost:3000" } },
        ["mercadolivre"] = new()
        {
            ["sellerId"] = "123456789",
            ["clientId"] = "5544332211",
            ["clientSecret"] = "mercadolivre-client-secret-ee05",
            ["refreshToken"] = "TG-mercadolivre-refresh-dd04",
        },
    };

    public static readonly Dictionary<string, string[]> SecretFields = new()
    {
        ["omni"] = [],
        ["email"] = ["password"],
        ["microsoft-email"] = ["clientSecret"],
        ["whatsapp"] = ["accessToken", "appSecret", "verifyToken"],
        ["instagram"] = ["accessToken", "appSecret", "verifyToken"],
        ["webchat"] = [],
        ["mercadolivre"] = ["clientSecret", "refreshToken"],
    };

    public static IEnumerable<string> SecretValues =>
        Valid.SelectMany(t => SecretFields[t.Key].Select(f => (string)t.Value[f]!));

    public static Dictionary<string, object?> With(string type, string field, object? value)
    {
        var copy = new Dictionary<string, object?>(Valid[type]) { [field] = value };
        return copy;
    }

    public static Dictionary<string, object?> Without(string type, string field)
    {
        var copy = new Dictionary<string, object?>(Valid[type]);
        copy.Remove(field);
        return copy;
    }
}
