// The GraphAPI module; its code arrives with the issue that builds it (see README, Layout).
