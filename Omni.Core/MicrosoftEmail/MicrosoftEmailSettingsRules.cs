using System.Text.Json.Nodes;
using Omni.Channels;
using Omni.Email;

namespace Omni.MicrosoftEmail;

/// <summary>A <c>microsoft-email</c> channel's settings: the mailbox and the Entra application (tenant, client, client secret) that reads it.</summary>
internal sealed class MicrosoftEmailSettingsRules : IChannelSettingsRules
{
    public const string ClientSecretField = "clientSecret";

    // The client secret belongs to one application in one directory; it is not kept for another.
    private static readonly SecretBinding ClientSecretBinding = new(ClientSecretField, ["tenantId", "clientId"], "the Microsoft 365 application changed");

    public void Check(ChannelSettingsInput input)
    {
        var reader = input.Settings;
        reader.EmailAddress("address", required: true);
        reader.String("mailboxId", required: true);
        if (reader.String("tenantId", required: true) is { } tenant && !Guid.TryParse(tenant, out _) && Uri.CheckHostName(tenant) != UriHostNameType.Dns)
        {
            reader.Error("tenantId", "Must be the directory (tenant) id, a GUID, or its domain name.");
        }

        if (reader.String("clientId", required: true) is { } client && !Guid.TryParse(client, out _))
        {
            reader.Error("clientId", "Must be the application (client) id, a GUID.");
        }

        input.Secret(ClientSecretField);
        EmailSettingsRules.SignatureAndPolling(reader);
    }

    public IReadOnlyList<string> SecretFields(JsonObject settings) => [ClientSecretField];

    public IReadOnlyList<SecretBinding> Bindings(JsonObject settings) => [ClientSecretBinding];
}
