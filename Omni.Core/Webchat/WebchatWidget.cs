using System.Text.Json.Nodes;
using Microsoft.Extensions.Options;

namespace Omni.Webchat;

/// <summary>
/// The embeddable widget: <c>widget.js</c> (a resource of this assembly, plain JavaScript with no build step) behind
/// one line of configuration for the site: its token, the welcome text and whether the page must name the visitor.
/// The widget finds the API from its own script address, so a proxy in front of the app changes nothing.
/// </summary>
internal sealed class WebchatWidget(IOptions<WebchatOptions> options)
{
    private readonly Lazy<string> _source = new(() =>
    {
        using var stream = typeof(WebchatWidget).Assembly.GetManifestResourceStream("Omni.Webchat.widget.js")
            ?? throw new InvalidOperationException("The webchat widget (Omni.Webchat.widget.js) is not embedded in Omni.Core.");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    });

    public string Script(WebchatVisit site)
    {
        // JsonNode's writer escapes <, >, & and the line separators, so the settings cannot end the script or the line.
        var config = new JsonObject
        {
            ["websiteToken"] = WebsiteToken.For(site.Channel.Id),
            ["welcomeText"] = site.Channel.GetString("welcomeText"),
            ["requireIdentity"] = site.Channel.Settings["requireIdentity"]?.GetValue<bool>() == true,
            ["realtime"] = options.Value.WebPubSubEndpoint is null ? "sse" : "webpubsub",
        };
        return "(function(){var OMNI_WEBCHAT=" + config.ToJsonString() + ";\n" + _source.Value + "\n})();\n";
    }
}
