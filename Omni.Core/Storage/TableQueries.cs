using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text.Json;
using Azure;
using Azure.Core;
using Azure.Core.Pipeline;
using Azure.Data.Tables;

namespace Omni.Storage;

/// <summary>
/// Table queries that run under Native AOT. <c>TableClient.QueryAsync&lt;TableEntity&gt;</c> maps every result through
/// Azure.Core's reflection <c>TypeBinder</c>, which builds generic instantiations over value types (<c>DateTimeOffset?</c>,
/// <c>ETag</c>) that an AOT binary has no code for. This issues the same <c>Query Entities</c> request through the
/// client's own pipeline (its credential, retries and policies: whatever the client was built with) and maps the
/// JSON to <see cref="TableEntity"/> by hand, value for value as the SDK does. Use it instead of
/// <c>QueryAsync&lt;TableEntity&gt;</c> everywhere; docs/operators.md says why.
/// </summary>
public static class TableQueries
{
    // The only service version Azure.Data.Tables 12.x speaks.
    private const string ServiceVersion = "2019-02-02";

    /// <summary>
    /// Same arguments and results as <c>TableClient.QueryAsync&lt;TableEntity&gt;(filter, maxPerPage, select)</c>:
    /// lazily enumerates every entity, following the service's continuation; <c>AsPages(token, size)</c> reads one
    /// service page per page, with the SDK's continuation token format (next partition key, a space, next row key).
    /// Failures are the SDK's <see cref="RequestFailedException"/> with the service's status and error code.
    /// </summary>
    public static AsyncPageable<TableEntity> QueryEntitiesAsync(
        this TableClient table, string? filter = null, int? maxPerPage = null, IEnumerable<string>? select = null, CancellationToken cancellationToken = default) =>
        new EntityPageable(table, filter, maxPerPage, select is null ? null : string.Join(',', select), cancellationToken);

    // The client's pipeline is not public; an UnsafeAccessor reads it without reflection (AOT-safe). Azure.Data.Tables is
    // pinned in Directory.Packages.props and TableQueriesTests fails with MissingFieldException if an update renames it.
    [UnsafeAccessor(UnsafeAccessorKind.Field, Name = "_pipeline")]
    private static extern ref HttpPipeline PipelineOf(TableClient table);

    private sealed class EntityPageable(TableClient table, string? filter, int? maxPerPage, string? select, CancellationToken cancellationToken)
        : AsyncPageable<TableEntity>(cancellationToken)
    {
        public override async IAsyncEnumerable<Page<TableEntity>> AsPages(string? continuationToken = null, int? pageSizeHint = null)
        {
            do
            {
                var page = await ReadPageAsync(table, filter, pageSizeHint ?? maxPerPage, select, continuationToken, CancellationToken);
                continuationToken = page.ContinuationToken;
                yield return page;
            }
            while (!string.IsNullOrEmpty(continuationToken));
        }
    }

    private static async Task<Page<TableEntity>> ReadPageAsync(
        TableClient table, string? filter, int? top, string? select, string? continuationToken, CancellationToken cancellationToken)
    {
        var pipeline = PipelineOf(table);
        using var message = pipeline.CreateMessage();
        var request = message.Request;
        request.Method = RequestMethod.Get;
        var uri = new UriBuilder(table.Uri) { Query = "" }.Uri;
        request.Uri.Reset(uri);
        request.Uri.AppendPath("()", escape: false);
        request.Uri.AppendQuery("$format", "application/json;odata=minimalmetadata");
        if (top is { } n)
        {
            request.Uri.AppendQuery("$top", n.ToString(CultureInfo.InvariantCulture));
        }

        if (!string.IsNullOrEmpty(select))
        {
            request.Uri.AppendQuery("$select", select);
        }

        if (!string.IsNullOrEmpty(filter))
        {
            request.Uri.AppendQuery("$filter", filter);
        }

        if (!string.IsNullOrEmpty(continuationToken))
        {
            var split = continuationToken.IndexOf(' ');
            request.Uri.AppendQuery("NextPartitionKey", split < 0 ? continuationToken : continuationToken[..split]);
            if (split >= 0 && split < continuationToken.Length - 1)
            {
                request.Uri.AppendQuery("NextRowKey", continuationToken[(split + 1)..]);
            }
        }

        request.Headers.Add("x-ms-version", ServiceVersion);
        request.Headers.Add("DataServiceVersion", "3.0");
        request.Headers.Add("Accept", "application/json;odata=minimalmetadata");

        await pipeline.SendAsync(message, cancellationToken);
        var response = message.Response;
        if (response.Status != 200)
        {
            throw new RequestFailedException(response, null, TableErrorParser.Instance);
        }

        var entities = ReadEntities(response.Content);
        string? next = null;
        if (response.Headers.TryGetValue("x-ms-continuation-NextPartitionKey", out var nextPartition) && !string.IsNullOrEmpty(nextPartition))
        {
            response.Headers.TryGetValue("x-ms-continuation-NextRowKey", out var nextRow);
            next = $"{nextPartition} {nextRow}";
        }

        return Page<TableEntity>.FromValues(entities, next, response);
    }

    private static List<TableEntity> ReadEntities(BinaryData content)
    {
        using var document = JsonDocument.Parse(content.ToMemory());
        if (!document.RootElement.TryGetProperty("value", out var values) || values.ValueKind != JsonValueKind.Array)
        {
            return [];
        }

        var entities = new List<TableEntity>(values.GetArrayLength());
        foreach (var row in values.EnumerateArray())
        {
            entities.Add(ReadEntity(row));
        }

        return entities;
    }

    private static TableEntity ReadEntity(JsonElement row)
    {
        var entity = new TableEntity();
        foreach (var property in row.EnumerateObject())
        {
            var name = property.Name;
            if (name == "odata.etag")
            {
                entity.ETag = new ETag(property.Value.GetString()!);
            }
            else if (name.StartsWith("odata.", StringComparison.Ordinal) || name.EndsWith("@odata.type", StringComparison.Ordinal))
            {
                // Metadata; the type annotations are read with their values below.
            }
            else if (name == "Timestamp")
            {
                entity.Timestamp = property.Value.ValueKind == JsonValueKind.String ? ParseDateTime(property.Value.GetString()!) : null;
            }
            else
            {
                entity[name] = row.TryGetProperty(name + "@odata.type", out var type) ? ReadTyped(type.GetString(), property.Value) : ReadUntyped(property.Value);
            }
        }

        return entity;
    }

    // Values the service annotates: their JSON form (a string for most) does not carry the type.
    private static object? ReadTyped(string? edmType, JsonElement value)
    {
        if (value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        return edmType switch
        {
            "Edm.Int64" => value.ValueKind == JsonValueKind.String ? long.Parse(value.GetString()!, NumberStyles.Integer, CultureInfo.InvariantCulture) : value.GetInt64(),
            "Edm.DateTime" => ParseDateTime(value.GetString()!),
            "Edm.Guid" => Guid.Parse(value.GetString()!),
            "Edm.Binary" => value.GetBytesFromBase64(),
            "Edm.Double" => value.ValueKind == JsonValueKind.String ? ParseDouble(value.GetString()!) : value.GetDouble(),
            "Edm.Int32" => value.GetInt32(),
            "Edm.Boolean" => value.GetBoolean(),
            _ => ReadUntyped(value),
        };
    }

    // As Azure.Core reads an untyped JSON value: the narrowest of int, long and double for a number.
    private static object? ReadUntyped(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => value.GetString(),
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        JsonValueKind.Number when value.TryGetInt32(out var i) => i,
        JsonValueKind.Number when value.TryGetInt64(out var l) => l,
        JsonValueKind.Number => value.GetDouble(),
        _ => null,
    };

    private static DateTimeOffset ParseDateTime(string s) =>
        DateTimeOffset.Parse(s, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal);

    private static double ParseDouble(string s) => s switch
    {
        "NaN" => double.NaN,
        "Infinity" or "INF" => double.PositiveInfinity,
        "-Infinity" or "-INF" => double.NegativeInfinity,
        _ => double.Parse(s, NumberStyles.Float, CultureInfo.InvariantCulture),
    };

    // The Table service names the error in odata.error.code (and in x-ms-error-code); RequestFailedException then
    // carries it as ErrorCode, as the SDK's own exceptions do.
    private sealed class TableErrorParser : RequestFailedDetailsParser
    {
        public static readonly TableErrorParser Instance = new();

        public override bool TryParse(Response response, out ResponseError? error, out IDictionary<string, string>? data)
        {
            data = null;
            string? code = null;
            string? text = null;
            try
            {
                if (response.Content.ToMemory().Length > 0)
                {
                    using var document = JsonDocument.Parse(response.Content.ToMemory());
                    if (document.RootElement.ValueKind == JsonValueKind.Object && document.RootElement.TryGetProperty("odata.error", out var odata))
                    {
                        code = odata.TryGetProperty("code", out var c) ? c.GetString() : null;
                        text = odata.TryGetProperty("message", out var m)
                            ? m.ValueKind == JsonValueKind.Object && m.TryGetProperty("value", out var v) ? v.GetString() : m.ValueKind == JsonValueKind.String ? m.GetString() : null
                            : null;
                    }
                }
            }
            catch (JsonException)
            {
                // Not JSON (a proxy's page, an XML error): the header or the status says enough.
            }

            if (code is null && response.Headers.TryGetValue("x-ms-error-code", out var header))
            {
                code = header;
            }

            error = code is null && text is null ? null : new ResponseError(code, text);
            return error is not null;
        }
    }
}
