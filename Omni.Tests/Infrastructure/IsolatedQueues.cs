using Omni.Functions.Triggers;

namespace Omni.Tests.Infrastructure;

/// <summary>
/// Test classes share one Azurite, and an app that runs its queue functions locally takes whatever is on their
/// queues. These settings give one app queues of its own (function.json files and the features' queue names
/// alike) and an outbox index of its own, so no app takes another's deliveries or outbound messages.
/// </summary>
internal static class IsolatedQueues
{
    private static readonly Dictionary<string, (string Queue, string Setting)> Real = new()
    {
        [FunctionNames.DeliverWebhook] = ("webhook-deliveries", "Omni:Webhooks:QueueName"),
        [FunctionNames.SendOutbound] = ("outbound-messages", "Omni:Conversations:OutboundQueueName"),
        [FunctionNames.MetaEvent] = ("meta-events", "Omni:Meta:EventsQueueName"),
        [FunctionNames.MercadoLivreNotification] = ("mercadolivre-notifications", "Omni:MercadoLivre:NotificationsQueueName"),
    };

    /// <param name="functionsDirectory">A copy of the functions folder to rewrite in place; null makes one from the app's own.</param>
    public static Dictionary<string, string?> Settings(string? functionsDirectory = null)
    {
        var dir = functionsDirectory ?? CopyOfRealFunctions();
        var suffix = Guid.NewGuid().ToString("N")[..10];
        // The outbox and delivery indexes too: an app's sweeps hand on only what its own writes left.
        var settings = new Dictionary<string, string?> { ["Omni:Triggers:FunctionsDirectory"] = dir, ["Omni:Conversations:OutboxTableName"] = "Outbox" + suffix, ["Omni:Webhooks:DueTableName"] = "WebhookDue" + suffix, ["Omni:Meta:ExpiryTableName"] = "WhatsAppExpiry" + suffix };
        foreach (var (function, (queue, setting)) in Real)
        {
            var file = Path.Combine(dir, function, "function.json");
            if (File.Exists(file))
            {
                var isolated = $"{queue}-{suffix}";
                File.WriteAllText(file, File.ReadAllText(file).Replace($"\"{queue}\"", $"\"{isolated}\"", StringComparison.Ordinal));
                settings[setting] = isolated;
            }
        }

        return settings;
    }

    private static string CopyOfRealFunctions()
    {
        var dir = Directory.CreateTempSubdirectory("omni-functions-").FullName;
        foreach (var source in Directory.GetDirectories(FunctionManifest.DefaultDirectory))
        {
            var target = Path.Combine(dir, Path.GetFileName(source));
            Directory.CreateDirectory(target);
            File.Copy(Path.Combine(source, "function.json"), Path.Combine(target, "function.json"));
        }

        return dir;
    }
}
