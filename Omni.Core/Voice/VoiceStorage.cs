namespace Omni.Voice;

/// <summary>
/// Where voice keeps its state. <see cref="InventoryTable"/> is the platform's numbers, one partition per area
/// ("BR-11"), a row per E.164 number naming the company that holds it ("" when free). <see cref="SetupTable"/> is one
/// partition per company: its numbers (<c>number|+55…</c>), audio (<c>audio|aud_…</c>) and IVRs (<c>ivr|ivr_…</c>)
/// side by side, so an IVR and the rows it uses change in one entity-group transaction.
/// <see cref="CallsTable"/> holds each company's call records (partition: the company) and each call's state
/// (partition: its <c>call_…</c> id).
/// </summary>
internal static class VoiceStorage
{
    public const string InventoryTable = "VoiceInventory";
    public const string SetupTable = "VoiceSetup";
    public const string CallsTable = "VoiceCalls";
    public const string AudioContainer = "voice-audio";

    public const string NumberRow = "number|";
    public const string AudioRow = "audio|";
    public const string IvrRow = "ivr|";

    /// <summary>The filter for the rows of one kind in a company's partition.</summary>
    public static string KindFilter(string companyId, string prefix) =>
        Azure.Data.Tables.TableClient.CreateQueryFilter($"PartitionKey eq {companyId} and RowKey ge {prefix} and RowKey lt {prefix[..^1] + "}"}");
}
