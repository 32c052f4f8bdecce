using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json.Nodes;

namespace Omni.Tests.Meta;

/// <summary>
/// What "Testar Configurações" and the template listing read: <c>GET {phoneNumberId}</c>, <c>GET {pageId}?fields=instagram_business_account</c>,
/// <c>GET {businessAccountId}/message_templates</c> (Graph's paging <c>{data, paging}</c>) and <c>GET {id}/subscribed_apps</c>.
/// </summary>
public sealed partial class FakeMeta
{
    /// <summary>Business account id → its message templates, in Graph's shape (name, language, status, category, components).</summary>
    public ConcurrentDictionary<string, ConcurrentQueue<JsonObject>> Templates { get; } = new(StringComparer.Ordinal);

    /// <summary>Business accounts and pages no app is subscribed to (by default every one is).</summary>
    public ConcurrentDictionary<string, bool> Unsubscribed { get; } = new(StringComparer.Ordinal);

    public JsonObject AddTemplate(FakePhoneNumber number, string name, string language = "pt_BR", string status = "APPROVED")
    {
        var template = new JsonObject
        {
            ["name"] = name,
            ["language"] = language,
            ["status"] = status,
            ["category"] = "UTILITY",
            ["id"] = NewId(),
            ["components"] = new JsonArray(new JsonObject { ["type"] = "BODY", ["text"] = "Olá {{1}}, seu pedido {{2}} saiu para entrega." }),
        };
        Templates.GetOrAdd(number.BusinessAccountId, _ => new()).Enqueue(template);
        return template;
    }

    private IReadOnlyList<JsonObject> TemplatesOf(string businessAccountId) => [.. Templates.GetValueOrDefault(businessAccountId) ?? []];

    private bool TokenActsForAccount(string? token, string businessAccountId) =>
        token is not null && PhoneNumbers.Values.Any(n => n.BusinessAccountId == businessAccountId && n.AccessToken == token && !n.TokenRevoked);

    private bool IsAccount(string id) => PhoneNumbers.Values.Any(n => n.BusinessAccountId == id);

    partial void MapAccountRoutes()
    {
        Map("GET", "{id}", ReadObject);
        Map("GET", "{businessAccountId}/message_templates", call => IsAccount(call.Segments[0]) ? ListTemplates(call) : null);
        Map("GET", "{id}/subscribed_apps", SubscribedApps);
    }

    private MetaResponse? ReadObject(MetaCall call)
    {
        var id = call.Segments[0];
        var fields = call.Query["fields"].ToString().Split(',', StringSplitOptions.RemoveEmptyEntries);
        if (PhoneNumbers.TryGetValue(id, out var number))
        {
            return Unauthorized(call, id) ?? MetaResponse.Ok(Pick(fields, new JsonObject
            {
                ["verified_name"] = "Acme Suporte",
                ["display_phone_number"] = number.DisplayNumber,
                ["quality_rating"] = "GREEN",
                ["id"] = id,
            }));
        }

        if (Pages.TryGetValue(id, out var page))
        {
            return Unauthorized(call, id) ?? MetaResponse.Ok(Pick(fields, new JsonObject
            {
                ["name"] = "Acme",
                ["instagram_business_account"] = new JsonObject { ["id"] = page.InstagramAccountId },
                ["id"] = id,
            }));
        }

        // An id nobody has, asked for a number's or a page's fields: Graph's "does not exist". Any other read (a media
        // id) is left to the routes after this one.
        return fields.Any(f => f is "display_phone_number" or "verified_name" or "instagram_business_account")
            ? IsKnownToken(call.Token) ? NotFound(id) : InvalidToken()
            : null;
    }

    private static JsonObject Pick(string[] fields, JsonObject all)
    {
        var picked = new JsonObject { ["id"] = all["id"]!.DeepClone() };
        foreach (var f in fields.Length == 0 ? all.Select(p => p.Key).ToArray() : fields)
        {
            if (all[f] is { } value)
            {
                picked[f] = value.DeepClone();
            }
        }

        return picked;
    }

    private static MetaResponse NotFound(string id) => MetaResponse.Error(400, 100,
        $"Unsupported get request. Object with ID '{id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation.", "GraphMethodException", 33);

    private MetaResponse ListTemplates(MetaCall call)
    {
        var account = call.Segments[0];
        if (!TokenActsForAccount(call.Token, account))
        {
            return IsKnownToken(call.Token) ? NotFound(account) : InvalidToken();
        }

        var status = call.Query["status"].ToString();
        var all = TemplatesOf(account).Where(t => status.Length == 0 || t["status"]?.GetValue<string>() == status).ToList();
        var limit = int.TryParse(call.Query["limit"], CultureInfo.InvariantCulture, out var l) ? Math.Clamp(l, 1, 100) : 25;
        var start = int.TryParse(call.Query["after"], CultureInfo.InvariantCulture, out var a) ? a : 0;
        var page = all.Skip(start).Take(limit).Select(t => t.DeepClone()).ToArray();
        var paging = new JsonObject { ["cursors"] = new JsonObject { ["before"] = start.ToString(CultureInfo.InvariantCulture), ["after"] = (start + page.Length).ToString(CultureInfo.InvariantCulture) } };
        if (start + page.Length < all.Count)
        {
            paging["next"] = new Uri(BaseUri, $"{Version}/{account}/message_templates?limit={limit}&after={start + page.Length}").ToString();
        }

        return MetaResponse.Ok(new JsonObject { ["data"] = new JsonArray(page), ["paging"] = paging });
    }

    private MetaResponse? SubscribedApps(MetaCall call)
    {
        var id = call.Segments[0];
        var subscribed = !Unsubscribed.ContainsKey(id);
        if (IsAccount(id))
        {
            return !TokenActsForAccount(call.Token, id) ? (IsKnownToken(call.Token) ? NotFound(id) : InvalidToken())
                : MetaResponse.Ok(new JsonObject
                {
                    ["data"] = subscribed
                        ? new JsonArray(new JsonObject { ["whatsapp_business_api_data"] = new JsonObject { ["id"] = "670843887433847", ["name"] = "Omni", ["link"] = "https://omni.example.com" } })
                        : new JsonArray(),
                });
        }

        return Pages.ContainsKey(id)
            ? Unauthorized(call, id) ?? MetaResponse.Ok(new JsonObject
            {
                ["data"] = subscribed
                    ? new JsonArray(new JsonObject { ["id"] = "670843887433847", ["name"] = "Omni", ["category"] = "Business", ["subscribed_fields"] = new JsonArray("messages", "messaging_postbacks") })
                    : new JsonArray(),
            })
            : null;
    }
}
